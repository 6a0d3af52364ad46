"""Validate one 3DIEBench split and write its index (.npz with paths, labels, latents, synsets)."""

from __future__ import annotations

import argparse

from seqjepa_core.data.threedie import NUM_VIEWS, build_index, write_index


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", required=True, help="dataset root holding <synset>/<object>/ folders")
    ap.add_argument("--splits-dir", required=True, help="folder with {split}_images.npy and {split}_labels.npy")
    ap.add_argument("--split", required=True, choices=["train", "val"])
    ap.add_argument("--out", required=True, help="index .npz to write")
    ap.add_argument("--num-views", type=int, default=NUM_VIEWS)
    ap.add_argument("--full-decode", action="store_true", help="decode every JPEG fully (slow) instead of header+EOI")
    ap.add_argument("--workers", type=int, default=8, help="I/O threads")
    args = ap.parse_args()
    index = build_index(args.root, args.splits_dir, args.split, num_views=args.num_views,
                        full_decode=args.full_decode, workers=args.workers)
    write_index(index, args.out)
    print(f"{args.split}: {len(index['paths'])} objects, {len(index['synsets'])} synsets, "
          f"images {tuple(index['image_size'].tolist())} -> {args.out}")


if __name__ == "__main__":
    main()
