"""Rule `retrieval`: MRR / H@k of one run's predictor on the validation split (paper Table 10)."""

import argparse

from seqjepa_core.analyses import evaluate_retrieval
from seqjepa_core.logging_utils import add_job_args, start_job

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--checkpoint", required=True)
p.add_argument("--index", required=True, help="index of the split to retrieve in (val)")
p.add_argument("--root", required=True)
p.add_argument("--m-obs", type=int, nargs="+", default=[1], help="observed views (seq-JEPA's M_val)")
p.add_argument("--out", required=True)
add_job_args(p)
args = p.parse_args()

start_job(args)
res = evaluate_retrieval(args.checkpoint, args.index, args.root, args.out, m_obs=args.m_obs, device=args.device)
for r in res["metrics"]:
    print(f"{r['metric']} (m_obs={r['m_val']}): {r['value']:.4f}")
