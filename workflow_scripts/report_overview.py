"""Rule `report_overview`: every table, figure and training curve on one self-contained HTML page."""

import argparse
import json

from seqjepa_core.report import Artefact, overview_page, write_page

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--artefacts-json", required=True,
               help='[{"category", "subcategory", "title", "path"}, ...] in page order')
p.add_argument("--out", required=True, help="output HTML")
args = p.parse_args()

write_page(overview_page([Artefact(**a) for a in json.loads(args.artefacts_json)]), args.out)
