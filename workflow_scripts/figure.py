"""Rule `figure`: the paper's Fig. 3 (top-1 vs relative-rotation R²) from an aggregated table CSV."""

import argparse

from seqjepa_core.figures import tradeoff_figure
from seqjepa_core.tables import read_table

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--table", required=True, help="CSV written by workflow_scripts/table.py")
p.add_argument("--out", required=True, help="output PNG")
p.add_argument("--x", default="top1", help="metric on the x axis")
p.add_argument("--y", default="rel_rot_r2", help="metric on the y axis")
args = p.parse_args()

tradeoff_figure(read_table(args.table), args.out, x=args.x, y=args.y)
