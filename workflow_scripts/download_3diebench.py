#!/usr/bin/env python
"""Download 3DIEBench and the SIE train/val split files.

Leaves <root>/<synset>/<object_id>/image_{0..49}.jpg (+ latent_i.npy), the four split .npy files in
--splits-dir, and <root>/.complete written last (the Snakemake output). Re-running is a no-op once
complete; an interrupted download resumes.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from seqjepa_core.download import SOURCES, fetch


def _overrides(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, url = pair.partition("=")
        if not sep or not name or not url:
            raise SystemExit(f"--url-override expects FILENAME=URL, got {pair!r}")
        out[name] = url
    return out


def main(argv: list[str] | None = None) -> int:
    known = [f.filename for s in ("3diebench", "3diebench_splits") for f in SOURCES[s].files]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, required=True, help="dataset root (e.g. data/3DIEBench)")
    p.add_argument("--splits-dir", type=Path, required=True, help="where {train,val}_{images,labels}.npy go")
    p.add_argument("--url-override", action="append", default=[], metavar="FILENAME=URL",
                   help=f"replace one file's URL; FILENAME in {known}")
    p.add_argument("--mirror", help="base URL serving every file as <mirror>/<filename>")
    p.add_argument("--archive-dir", type=Path, help="where the 17 GB archive goes (default <root>/../_downloads)")
    p.add_argument("--keep-archive", action="store_true", help="keep the archive after a successful extraction")
    p.add_argument("--retries", type=int, default=5)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    common = dict(url_overrides=_overrides(args.url_override), mirror=args.mirror,
                  progress=not args.no_progress, retries=args.retries)
    fetch("3diebench_splits", args.splits_dir, **common)  # small: fail fast before the big archive
    fetch("3diebench", args.root, archive_dir=args.archive_dir, keep_archive=args.keep_archive, **common)
    return 0


if __name__ == "__main__":
    sys.exit(main())
