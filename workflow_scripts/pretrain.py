"""Rule `pretrain`: train one (experiment, method, variant, seed) run."""

import argparse
import sys

import torch

from seqjepa_core.config import RunConfig
from seqjepa_core.data.loading import DataSpec
from seqjepa_core.logging_utils import setup_logging
from seqjepa_core.train import PREEMPTED_EXIT_CODE, STOP, Preempted, pretrain

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--run-json", required=True, help="resolved RunConfig as JSON")
p.add_argument("--index", required=True, help="train-split index (.npz)")
p.add_argument("--root", required=True, help="dataset root")
p.add_argument("--out-dir", required=True)
p.add_argument("--device", default="auto")
p.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch's default)")
args = p.parse_args()
STOP.hold()  # a stop signal never kills this job, up to its exit: it checkpoints or finishes

setup_logging()
if args.threads:
    torch.set_num_threads(args.threads)
run = RunConfig.from_json(args.run_json)
try:
    pretrain(run, DataSpec.for_run(run, args.index, args.root), args.out_dir, args.device)
except Preempted as err:
    print(f"preempted: {err}", file=sys.stderr)
    sys.exit(PREEMPTED_EXIT_CODE)
