"""One logging setup for every workflow script (the job's log file is its stderr)."""

from __future__ import annotations

import logging
import sys


def setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, stream=sys.stderr, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def add_job_args(parser) -> None:
    """The options every GPU-job script takes: where to run and how many CPU threads torch may use."""
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")


def start_job(args) -> None:
    """Logging to the job's log (stderr) and the thread count asked for."""
    setup_logging()
    if args.threads:
        import torch  # lazily: the table and figure scripts use this module without torch
        torch.set_num_threads(args.threads)
