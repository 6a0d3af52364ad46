"""Generate the procedural miniature 3DIEBench (real on-disk format); ``root/.complete`` marks a finished run."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from seqjepa_core.data.synthetic_3diebench import Look, generate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", required=True)
    ap.add_argument("--splits-dir", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--classes", type=int, default=5)
    ap.add_argument("--train-objects", type=int, default=40, help="per class")
    ap.add_argument("--val-objects", type=int, default=10, help="per class")
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--views", type=int, default=50)
    ap.add_argument("--rotation-scale", type=float, nargs=3, default=(1.0, 1.0, 1.0), metavar=("X", "Y", "Z"),
                    help="narrow each rotation axis to this fraction of (-pi/2, pi/2) (demo option)")
    Look.add_arguments(ap)
    ap.add_argument("--workers", type=int, default=None, help="render processes (default: all cores)")
    args = ap.parse_args()
    root = Path(args.root)
    out = generate(root, args.splits_dir, num_classes=args.classes, objects_per_class_train=args.train_objects,
                   objects_per_class_val=args.val_objects, image_size=args.image_size, num_views=args.views,
                   seed=args.seed, workers=args.workers,
                   rotation_scale=tuple(args.rotation_scale),
                   look=Look.from_args(args))
    tmp = root / ".complete.tmp"  # written last and renamed: its presence means everything before it is done
    tmp.write_text(f"seed={args.seed} classes={args.classes} train={len(out['train'])} val={len(out['val'])}\n")
    os.replace(tmp, root / ".complete")
    print(f"{len(out['train'])} train + {len(out['val'])} val objects -> {root}")


if __name__ == "__main__":
    main()
