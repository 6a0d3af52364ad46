"""Rule `import_released`: an official released checkpoint -> our checkpoint.pt with the paper's run config."""

import argparse
from pathlib import Path

from seqjepa_core.config import RunConfig
from seqjepa_core.logging_utils import setup_logging
from seqjepa_core.released import download_provenance, import_released

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--marker", required=True, help="the download's .complete marker (provenance)")
p.add_argument("--filename", required=True, help="the checkpoint's path inside the Hub repo")
p.add_argument("--run-json", required=True, help="the paper's run config for these weights")
p.add_argument("--out", required=True)
args = p.parse_args()

setup_logging()
official = Path(args.marker).parent / args.filename
out = import_released(official, RunConfig.from_json(args.run_json), args.out,
                      source={**download_provenance(args.marker), "filename": args.filename})
print(f"imported {official} -> {out}")
