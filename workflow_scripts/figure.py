"""Rule `figure`: Fig. 3 (top-1 vs relative-rotation R², one table) or a heatmap figure (Figs. 8-11: top-1
on z_AGG over M_val x M_tr, one panel per table) from aggregated table CSVs."""

import argparse

from seqjepa_core.figures import heatmap_figure, tradeoff_figure
from seqjepa_core.tables import read_table

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--kind", default="tradeoff", choices=["tradeoff", "heatmap"])
p.add_argument("--table", nargs="+", required=True, help="CSV(s) written by workflow_scripts/table.py")
p.add_argument("--title", default="")
p.add_argument("--out", required=True, help="output PNG")
p.add_argument("--x", default="top1", help="metric on the x axis")
p.add_argument("--y", default="rel_rot_r2", help="metric on the y axis")
args = p.parse_args()

if args.kind == "heatmap":
    heatmap_figure([read_table(t) for t in args.table], args.out, title=args.title)
else:
    tradeoff_figure(read_table(args.table[0]), args.out, x=args.x, y=args.y,
                    **({"title": args.title} if args.title else {}))
