"""Generate the demo's miniature 3DIEBench-OOD (rotations ±U(pi/2, pi), the Hub release's tree layout)."""

from __future__ import annotations

import argparse
from pathlib import Path

from seqjepa_core.data.synthetic_3diebench import OOD_VIEW_IDS, Look, generate_ood
from seqjepa_core.io import atomic_write_text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--classes", type=int, default=5)
    ap.add_argument("--objects", type=int, default=10, help="per class")
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--view-ids", type=int, nargs="+", default=list(OOD_VIEW_IDS))
    Look.add_arguments(ap)
    ap.add_argument("--workers", type=int, default=None, help="render processes (default: all cores)")
    args = ap.parse_args()
    root = Path(args.root)
    paths = generate_ood(root, num_classes=args.classes, objects_per_class=args.objects, image_size=args.image_size,
                         view_ids=tuple(args.view_ids), seed=args.seed, workers=args.workers,
                         look=Look.from_args(args))
    # written last: its presence means every object before it is on disk
    atomic_write_text(f"seed={args.seed} classes={args.classes} objects={len(paths)} views={args.view_ids}\n",
                      root / ".complete")
    print(f"{len(paths)} OOD objects -> {root}")


if __name__ == "__main__":
    main()
