"""Rules `download_cifar100` / `download_tinyimagenet`: fetch one registered source (md5-verified archive,
safe extraction, ``<root>/.complete`` written last). Re-running is a no-op once complete."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from seqjepa_core.download import SOURCES, fetch


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--source", required=True, choices=sorted(SOURCES))
    p.add_argument("--root", type=Path, required=True, help="the dataset's root (e.g. data/CIFAR100)")
    p.add_argument("--mirror", help="base URL serving the archive as <mirror>/<filename>")
    p.add_argument("--retries", type=int, default=5)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    fetch(args.source, args.root, mirror=args.mirror, retries=args.retries, progress=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
