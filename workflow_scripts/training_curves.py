"""Rule `training_curves`: every run of one experiment, loss and lr per epoch beside its probe summary."""

import argparse

from seqjepa_core.curves import load_run, training_figure

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--runs", nargs="+", required=True,
               help="run directories (config.json, metrics.csv, optionally probe.json)")
p.add_argument("--title", required=True)
p.add_argument("--out", required=True, help="output PNG")
args = p.parse_args()

training_figure([load_run(d) for d in args.runs], args.out, args.title)
