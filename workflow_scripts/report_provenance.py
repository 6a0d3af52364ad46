"""Rule `report_provenance`: resolved config, code version, packages and each run's hardware (HTML)."""

import argparse
import json
from pathlib import Path

from seqjepa_core.io import atomic_write_text
from seqjepa_core.provenance import git_state, package_versions
from seqjepa_core.report import provenance_page

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--config-json", required=True, help="the resolved (merged) Snakemake config")
p.add_argument("--runs", nargs="*", default=[], help="run directories (provenance.json, config.json)")
p.add_argument("--out", required=True, help="output HTML")
args = p.parse_args()

runs = [tuple(json.loads((Path(d) / name).read_text()) for name in ("provenance.json", "config.json"))
        for d in args.runs]
atomic_write_text(provenance_page(json.loads(args.config_json), git_state(), package_versions(), runs), args.out)
