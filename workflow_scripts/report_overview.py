"""Rule `report_overview`: every table, figure and training curve on one self-contained HTML page."""

import argparse
import json

from seqjepa_core.io import atomic_write_text
from seqjepa_core.report import Artefact, overview_page

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--artefacts-json", required=True,
               help='[{"category", "subcategory", "title", "path"}, ...] in page order')
p.add_argument("--out", required=True, help="output HTML")
args = p.parse_args()

atomic_write_text(overview_page([Artefact(**a) for a in json.loads(args.artefacts_json)]), args.out)
