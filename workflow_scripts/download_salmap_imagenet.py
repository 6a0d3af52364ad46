#!/usr/bin/env python
"""Rule `download_salmap_imagenet`: the ImageNet-1k saliency maps from the Hugging Face Hub (Fig. 15).

<root>/<split>/... as the repo lays them out, and <root>/.complete (revision, resolved commit, map count).
The endpoint defaults to $HF_ENDPOINT (a mirror, or a local stand-in in the tests).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from seqjepa_core.download import IMAGENET_SALIENCY_REPO, fetch_salmap_imagenet


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("--repo-id", default=IMAGENET_SALIENCY_REPO)
    p.add_argument("--revision", default="main", help="Hub branch, tag or commit sha")
    p.add_argument("--pattern", action="append", required=True, help="repo files to fetch (repeatable glob)")
    p.add_argument("--endpoint", help="Hub endpoint (default $HF_ENDPOINT / huggingface.co)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    fetch_salmap_imagenet(args.root, args.revision, args.pattern, args.endpoint, args.repo_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
