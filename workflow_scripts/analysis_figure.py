"""Rules `analysis_path_integration` / `analysis_seq_length`: per-run results -> a CSV and the paper's figure(s).

path_integration: Fig. 6b (R² vs M_val, three conditions, mean ± std over seeds) + its numbers.
seq_length: Fig. 8 (top-1 heatmap, M_tr x M_val) + Fig. 7 (R² and top-1 against M_tr and M_val) + long CSV.
"""

import argparse

from seqjepa_core.analysis_tables import paper_seq_length, path_integration_table, seq_length_long
from seqjepa_core.figures import path_integration_figure
from seqjepa_core.figures_3diebench import seq_length_curves, seq_length_heatmap
from seqjepa_core.tables import load_probe_results, write_csv

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--kind", required=True, choices=["path_integration", "seq_length"])
p.add_argument("--results", nargs="+", required=True, help="per-run result JSONs")
p.add_argument("--paper-tables", nargs="*", default=[], help="paper_numbers tables (fig6b | fig8 fig7)")
p.add_argument("--out-csv", required=True)
p.add_argument("--out-png", required=True)
p.add_argument("--out-curves", help="seq_length: the Fig. 7 panels")
args = p.parse_args()

results = load_probe_results(args.results)
if args.kind == "path_integration":
    df = path_integration_table(results, args.paper_tables[0] if args.paper_tables else None)
    write_csv(df, args.out_csv)
    path_integration_figure(df, args.out_png, "3DIEBench: angular path integration")
else:
    df = seq_length_long(results)
    write_csv(df, args.out_csv)
    heat, curves = (args.paper_tables + [None, None])[:2]
    seq_length_heatmap(df, args.out_png, paper=paper_seq_length(heat) if heat else None)
    seq_length_curves(df, args.out_curves, paper=paper_seq_length(curves) if curves else None)
print(df.to_string())
