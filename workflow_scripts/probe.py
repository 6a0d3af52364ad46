"""Rule `probe`: frozen linear/MLP probes of one pretrained run -> probe.json."""

import argparse

from seqjepa_core.evaluate import evaluate_checkpoint
from seqjepa_core.logging_utils import add_job_args, start_job

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--checkpoint", required=True)
p.add_argument("--train-index", required=True)
p.add_argument("--test-index", required=True)
p.add_argument("--root", required=True)
p.add_argument("--out", required=True)
p.add_argument("--m-val", type=int, nargs="+", help="z_AGG lengths instead of the run's (sequence-length sweep)")
p.add_argument("--heads-out", help="also save the fitted heads here (scored on 3DIEBench-OOD later)")
add_job_args(p)
args = p.parse_args()

start_job(args)
evaluate_checkpoint(args.checkpoint, args.train_index, args.test_index, args.root, args.out, args.device,
                    m_val=args.m_val, heads_out=args.heads_out)
