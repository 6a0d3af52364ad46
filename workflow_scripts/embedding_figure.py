"""Rule `analysis_embedding`: Fig. 4 (3-NN retrieval grid across methods) or Fig. 5 (UMAPs of one run)."""

import argparse

from seqjepa_core.analyses import embedding_umaps, nearest_neighbour_grid
from seqjepa_core.logging_utils import add_job_args, start_job

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--kind", required=True, choices=["nn_grid", "umap"])
p.add_argument("--checkpoints", nargs="+", required=True)
p.add_argument("--labels", nargs="+", required=True)
p.add_argument("--index", required=True)
p.add_argument("--root", required=True)
p.add_argument("--m-val", type=int, default=5, help="umap: z_AGG over this many views")
p.add_argument("--out", required=True)
add_job_args(p)
args = p.parse_args()

start_job(args)
if args.kind == "nn_grid":
    nearest_neighbour_grid(dict(zip(args.labels, args.checkpoints)), args.index, args.root, args.out, device=args.device)
else:
    embedding_umaps(args.checkpoints[0], args.index, args.root, args.out, m_val=args.m_val, device=args.device)
