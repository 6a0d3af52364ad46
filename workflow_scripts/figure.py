"""Rule `figure`: Fig. 3 (top-1 vs relative-rotation R²) from a table CSV, or the STL-10 figures (Fig. 9
heatmap, Fig. 6a path integration, the fixation sampler's Fig. 2b-style sheet) from their inputs, or the
heatmaps of Figs. 10-11 (table_heatmap: one panel per table CSV)."""

import argparse
import json

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--table", help="CSV written by workflow_scripts/table.py (the tradeoff figure)")
p.add_argument("--spec-json", help='{"kind": ..., "figure": ...[, "data": sampler options]}')
p.add_argument("--inputs", nargs="*", default=[], help="the figure's inputs (see rules/common.smk figure_inputs)")
p.add_argument("--out", required=True, help="output PNG")
p.add_argument("--x", default="top1", help="metric on the x axis")
p.add_argument("--y", default="rel_rot_r2", help="metric on the y axis")
args = p.parse_args()

spec = json.loads(args.spec_json) if args.spec_json else {"kind": "tradeoff"}
if spec["kind"] == "tradeoff":
    from seqjepa_core.figures import tradeoff_figure
    from seqjepa_core.tables import read_table
    tradeoff_figure(read_table(args.table or args.inputs[0]), args.out, x=args.x, y=args.y)
elif spec["kind"] == "table_heatmap":
    from seqjepa_core.figures import heatmap_figure
    from seqjepa_core.tables import read_table
    heatmap_figure([read_table(t) for t in args.inputs], args.out, title=spec.get("title", ""))
else:
    from seqjepa_core.saccade_figures import FIGURES
    FIGURES[spec["kind"]](args.inputs, args.out, spec)
