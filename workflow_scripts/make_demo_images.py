"""Rules `make_demo_cifar100` / `make_demo_tinyimagenet`: a generated stand-in archive in the published
format, extracted as a download would be (``root/.complete`` last)."""

from __future__ import annotations

import argparse

from seqjepa_core.data.synthetic_images import generate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dataset", required=True, choices=["cifar100", "tinyimagenet"])
    ap.add_argument("--root", required=True)
    ap.add_argument("--archive-dir", required=True)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--train-per-class", type=int, default=50)
    ap.add_argument("--test-per-class", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    root = generate(args.dataset, args.root, args.archive_dir, classes=args.classes,
                    train_per_class=args.train_per_class, test_per_class=args.test_per_class, seed=args.seed)
    print(f"{args.dataset}: {args.classes} classes x ({args.train_per_class} train + {args.test_per_class} test) -> {root}")


if __name__ == "__main__":
    main()
