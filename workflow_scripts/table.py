"""Rule `table`: aggregate probe results over seeds into one paper table (CSV, optional Markdown)."""

import argparse
import json

from seqjepa_core.tables import build_table, load_probe_results, write_csv, write_markdown

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--spec-json", required=True,
               help='table spec: {"experiment", "paper_tables", "rows": [...]} or a bare list of rows')
p.add_argument("--probes", nargs="*", default=[], help="probe result JSON files")
p.add_argument("--paper-tables", nargs="*", default=None,
               help="paper tables to compare with (e.g. table1 table12); overrides the spec's")
p.add_argument("--out", required=True, help="output CSV")
p.add_argument("--markdown", default=None, help="also write a Markdown rendering here")
args = p.parse_args()

spec = json.loads(args.spec_json)
if args.paper_tables is not None:
    spec = {"rows": spec} if isinstance(spec, list) else spec
    spec["paper_tables"] = args.paper_tables
df = build_table(spec, load_probe_results(args.probes))
write_csv(df, args.out)
if args.markdown:
    write_markdown(df, args.markdown)
print(df[["label", "n_seeds"] + [c for c in df.columns if c.endswith(("_mean", "_paper"))]].to_string())
