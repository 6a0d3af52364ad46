"""Rule `probe`: frozen linear/MLP probes of one pretrained run -> probe.json."""

import argparse

import torch

from seqjepa_core.evaluate import evaluate_checkpoint
from seqjepa_core.logging_utils import setup_logging

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--checkpoint", required=True)
p.add_argument("--train-index", required=True)
p.add_argument("--test-index", required=True)
p.add_argument("--root", required=True)
p.add_argument("--out", required=True)
p.add_argument("--device", default="auto")
p.add_argument("--threads", type=int, default=0)
args = p.parse_args()

setup_logging()
if args.threads:
    torch.set_num_threads(args.threads)
evaluate_checkpoint(args.checkpoint, args.train_index, args.test_index, args.root, args.out, args.device)
