"""Rule `imagenet_transfer_figure`: top-1 over M_val per patch size, ours and the paper's Fig. 15 (PNG)."""

import argparse

from seqjepa_core.transfer import transfer_figure

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--table", required=True)
p.add_argument("--out", required=True)
args = p.parse_args()
transfer_figure(args.table, args.out)
