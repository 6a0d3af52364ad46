"""Rule `report_table`: one aggregated table CSV as an HTML page for the Snakemake report."""

import argparse

from seqjepa_core.io import atomic_write_text
from seqjepa_core.report import table_page
from seqjepa_core.tables import read_table

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--table", required=True, help="CSV written by workflow_scripts/table.py")
p.add_argument("--title", required=True)
p.add_argument("--description", default="", help="one line above the table")
p.add_argument("--out", required=True, help="output HTML")
args = p.parse_args()

atomic_write_text(table_page(read_table(args.table), args.title, args.description), args.out)
