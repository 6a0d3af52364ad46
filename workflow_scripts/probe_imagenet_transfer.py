"""Rule `probe_imagenet_transfer`: linear z_AGG probes of a frozen STL-10 run on ImageNet saccades (Fig. 15)."""

import argparse
import json

from seqjepa_core.config import ProbeConfig
from seqjepa_core.logging_utils import add_job_args, start_job
from seqjepa_core.transfer import probe_transfer

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--checkpoint", required=True)
p.add_argument("--train-index", required=True)
p.add_argument("--test-index", required=True)
p.add_argument("--data-json", required=True, help="the saccade sampler's options (patch_size, ior, ...)")
p.add_argument("--probe-json", required=True, help="the probe protocol (ProbeConfig fields)")
p.add_argument("--dataset", default="imagenet")
p.add_argument("--workers", type=int, default=8, help="image decoding processes")
p.add_argument("--out", required=True)
add_job_args(p)
args = p.parse_args()

start_job(args)
probe = ProbeConfig.from_json(args.probe_json)
probe_transfer(args.checkpoint, args.train_index, args.test_index, args.out, json.loads(args.data_json), probe,
               args.dataset, args.workers, args.device)
