"""Rule `ood`: one run's probe heads (fitted on 3DIEBench train) scored on 3DIEBench-OOD (paper Table 9)."""

import argparse

from seqjepa_core.analyses import evaluate_ood
from seqjepa_core.logging_utils import add_job_args, start_job

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--checkpoint", required=True)
p.add_argument("--heads", required=True, help="the probe job's fitted heads (probe_heads.pt)")
p.add_argument("--probe-json", required=True, help="the probe job's probe.json (in-distribution values)")
p.add_argument("--ood-index", required=True)
p.add_argument("--ood-root", required=True)
p.add_argument("--out", required=True)
add_job_args(p)
args = p.parse_args()

start_job(args)
res = evaluate_ood(args.checkpoint, args.heads, args.probe_json, args.ood_index, args.ood_root, args.out,
                   device=args.device)
for r in res["metrics"]:
    print(f"{r['metric']} [{r['representation']}, M_val {r['m_val']}]: {r['value']:.4f}")
