"""Rule `retrieval`: MRR / H@k of one run's predictor on the validation split (paper Table 10)."""

import argparse

import torch

from seqjepa_core.analyses import evaluate_retrieval
from seqjepa_core.logging_utils import setup_logging

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--checkpoint", required=True)
p.add_argument("--index", required=True, help="index of the split to retrieve in (val)")
p.add_argument("--root", required=True)
p.add_argument("--m-obs", type=int, nargs="+", default=[1], help="observed views (seq-JEPA's M_val)")
p.add_argument("--out", required=True)
p.add_argument("--device", default="auto")
p.add_argument("--threads", type=int, default=0)
args = p.parse_args()

setup_logging()
if args.threads:
    torch.set_num_threads(args.threads)
res = evaluate_retrieval(args.checkpoint, args.index, args.root, args.out, m_obs=args.m_obs, device=args.device)
for r in res["metrics"]:
    print(f"{r['metric']} (m_obs={r['m_val']}): {r['value']:.4f}")
