"""Rule `path_integration`: R² of heads on z_AGG ⊕ emb(a_M) predicting the rotation x_1 -> x_{M+1} (Fig. 6b)."""

import argparse

from seqjepa_core.analyses import evaluate_path_integration
from seqjepa_core.logging_utils import add_job_args, start_job

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--checkpoint", required=True)
p.add_argument("--train-index", required=True)
p.add_argument("--test-index", required=True)
p.add_argument("--root", required=True)
p.add_argument("--m-val", type=int, nargs="+", required=True)
p.add_argument("--epochs", type=int, help="epochs of the heads (default: the run's probe.epochs)")
p.add_argument("--out", required=True)
add_job_args(p)
args = p.parse_args()

start_job(args)
res = evaluate_path_integration(args.checkpoint, args.train_index, args.test_index, args.root, args.out,
                                m_vals=args.m_val, device=args.device, epochs=args.epochs)
for r in res["metrics"]:
    print(f"{r['metric']} M_val {r['m_val']}: {r['value']:.4f}")
