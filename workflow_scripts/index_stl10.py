"""Validate one STL-10 split (images, labels, saliency maps) and write its index (.npz)."""

import argparse

from seqjepa_core.data.stl10 import SPLITS, build_index, write_index

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--root", required=True, help="folder holding stl10_binary/")
p.add_argument("--saliency-root", required=True, help="folder holding <split>/saliency_<split>.npy")
p.add_argument("--split", required=True, choices=SPLITS)
p.add_argument("--out", required=True)
args = p.parse_args()
index = build_index(args.root, args.saliency_root, args.split)
write_index(index, args.out)
print(f"{args.split}: {len(index['labels'])} images with saliency maps -> {args.out}")
