"""Generate the demo's miniature STL-10 + saliency maps in the real on-disk formats."""

import argparse

from seqjepa_core.data.synthetic_stl10 import LIGHT, TINT, generate

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--root", required=True)
p.add_argument("--saliency-root", required=True)
p.add_argument("--train-per-class", type=int, required=True)
p.add_argument("--test-per-class", type=int, required=True)
p.add_argument("--unlabeled", type=int, required=True)
p.add_argument("--discs-per-colour", type=int, default=1, help="discs of each of the class's two colours")
p.add_argument("--light", type=float, default=LIGHT, help="dimming from the top row to the bottom one")
p.add_argument("--tint", type=float, default=TINT, help="red/blue shift from the left column to the right one")
p.add_argument("--seed", type=int, default=0)
args = p.parse_args()
generate(args.root, args.saliency_root, train_per_class=args.train_per_class, test_per_class=args.test_per_class,
         unlabeled=args.unlabeled, seed=args.seed, discs_per_colour=args.discs_per_colour,
         light=args.light, tint=args.tint)
print(f"STL-10-style data in {args.root}, saliency maps in {args.saliency_root}")
