"""Rules `index_cifar100` / `index_tinyimagenet`: read one split from the real format, pack it into uint8
arrays (.npz with images [N, H, W, 3], labels, classes)."""

from __future__ import annotations

import argparse
import sys

from seqjepa_core.data.image_arrays import write_packed
from seqjepa_core.data.loading import dataset_module


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dataset", required=True, choices=["cifar100", "tinyimagenet"])
    ap.add_argument("--root", required=True, help="folder holding the extracted archive")
    ap.add_argument("--split", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    index = dataset_module(args.dataset).read_split(args.root, args.split)
    write_packed(index, args.out)
    print(f"{args.dataset} {args.split}: {len(index['labels'])} images {index['images'].shape[1:]}, "
          f"{len(index['classes'])} classes -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
