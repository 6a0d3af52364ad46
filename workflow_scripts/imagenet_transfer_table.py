"""Rule `imagenet_transfer_table`: the transfer probes' z_AGG top-1 beside the paper's Fig. 15 (CSV)."""

import argparse

from seqjepa_core.transfer import write_table

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--inputs", nargs="+", required=True, help="probe.json of each patch size")
p.add_argument("--paper-table", default="fig15")
p.add_argument("--out", required=True)
args = p.parse_args()
print(write_table(args.inputs, args.out, args.paper_table).to_string(index=False))
