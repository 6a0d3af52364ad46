"""Validate 3DIEBench-OOD and write its index, labelled with the 3DIEBench training classes.

Split files in --splits-dir (ood_images.npy / ood_labels.npy) must match the tree; without them the tree is
the listing and they are written there.
"""

from __future__ import annotations

import argparse

from seqjepa_core.data.threedie import build_eval_index, load_index, write_index


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", required=True, help="the OOD tree: <synset>/<object>/image_<i>.jpg + latent_<i>.npy")
    ap.add_argument("--splits-dir", required=True, help="where ood_{images,labels}.npy are read or written")
    ap.add_argument("--train-index", required=True, help="3DIEBench train index: its synsets are the classes")
    ap.add_argument("--split", default="ood")
    ap.add_argument("--out", required=True)
    ap.add_argument("--full-decode", action="store_true")
    ap.add_argument("--workers", type=int, default=8)
    args = ap.parse_args()
    synsets = [str(s) for s in load_index(args.train_index)["synsets"]]
    index = build_eval_index(args.root, args.splits_dir, args.split, synsets, full_decode=args.full_decode,
                             workers=args.workers)
    write_index(index, args.out)
    print(f"{args.split}: {len(index['paths'])} objects, views {index['view_ids'].tolist()}, "
          f"images {tuple(index['image_size'].tolist())} -> {args.out}")


if __name__ == "__main__":
    main()
