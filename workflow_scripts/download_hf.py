#!/usr/bin/env python
"""Download Hugging Face Hub assets of the paper (saliency maps, 3DIEBench-OOD, checkpoints).

Either a registry source (`--source salmap_stl10`, laid out as seqjepa_core.download.SOURCES says)
or an explicit repo (`--repo-id Hafez/seq-JEPA --repo-type model --pattern '*.pt'`). The endpoint
defaults to $HF_ENDPOINT; `--endpoint file:///mirror` copies from a local mirror
(<mirror>/<repo_type>s/<repo_id>/...). <dest>/.complete is written last.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from seqjepa_core.download import SOURCES, fetch, hf_download, hf_resolve_commit, is_complete, write_marker


def main(argv: list[str] | None = None) -> int:
    hf_sources = sorted(n for n, s in SOURCES.items() if s.hf_repo)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--source", choices=hf_sources, help="a registry entry")
    what.add_argument("--repo-id", help="owner/name on the Hub")
    p.add_argument("--repo-type", choices=("dataset", "model"), default="dataset")
    p.add_argument("--dest", type=Path, required=True)
    p.add_argument("--pattern", action="append", help="glob of repo files to fetch (repeatable; default all)")
    p.add_argument("--filename", action="append", help="exact repo file to fetch (repeatable)")
    p.add_argument("--revision", help="branch, tag or commit (default: the source's pinned one, else main)")
    p.add_argument("--endpoint", help="Hub endpoint or file:// mirror (default $HF_ENDPOINT / huggingface.co)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if args.source:
        fetch(args.source, args.dest, endpoint=args.endpoint, revision=args.revision)
        return 0
    if is_complete(args.dest):
        return 0
    # Resolve the revision once and fetch at that commit: the marker then names what was downloaded.
    commit = hf_resolve_commit(args.repo_id, args.repo_type, args.revision, args.endpoint)
    files = hf_download(args.repo_id, args.dest, filenames=args.filename, allow_patterns=args.pattern,
                        repo_type=args.repo_type, revision=commit or args.revision, endpoint=args.endpoint)
    if not files:
        raise SystemExit(f"nothing downloaded from {args.repo_type} {args.repo_id} (patterns {args.pattern})")
    write_marker(args.dest, {"repo": f"{args.repo_type}s/{args.repo_id}", "revision": args.revision or "main",
                             "commit": commit, "files": [str(f.resolve().relative_to(args.dest.resolve())) for f in files]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
