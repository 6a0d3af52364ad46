#!/usr/bin/env python
"""Download STL-10 (the binary archive, md5-verified, resumable) or its saliency maps (Hugging Face Hub).

--what images:   <root>/stl10_binary/*.bin and <root>/.complete (torchvision's STL10 layout)
--what saliency: <root>/<split>/saliency_<split>.npy and <root>/.complete (Hafez/salmap-stl10 at --revision,
                 through the Hub cache, so HF_HUB_OFFLINE=1 works from a filled cache)
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from seqjepa_core.download import fetch, fetch_salmap_stl10


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--what", choices=("images", "saliency"), required=True)
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("--revision", default="main", help="saliency: Hub branch, tag or commit sha")
    p.add_argument("--endpoint", help="saliency: Hub endpoint (default $HF_ENDPOINT / huggingface.co)")
    p.add_argument("--mirror", help="images: base URL serving stl10_binary.tar.gz")
    p.add_argument("--retries", type=int, default=5)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if args.what == "images":
        fetch("stl10", args.root, mirror=args.mirror, retries=args.retries, progress=not args.no_progress)
    else:
        fetch_salmap_stl10(args.root, revision=args.revision, endpoint=args.endpoint)
    return 0


if __name__ == "__main__":
    sys.exit(main())
