"""Rule `index_imagenet`: pair one ImageNet split's images with their saliency maps, check every pair, write
the index (.npz). The validation split takes its class list from the training split's index."""

import argparse

from seqjepa_core.data.imagenet_saliency import SPLITS, build_index, load_index, write_index
from seqjepa_core.logging_utils import add_job_args, start_job

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--image-root", required=True, help="ILSVRC2012 with train/<wnid>/*.JPEG and val/<wnid>/*.JPEG")
p.add_argument("--saliency-root", required=True, help="folder holding <split>/<saliency-name>")
p.add_argument("--split", required=True, choices=SPLITS)
p.add_argument("--saliency-name", required=True, help="template of a map's path: <wnid>, <stem>")
p.add_argument("--saliency-size", type=int, help="maps stored at N x N (default: the image's native size)")
p.add_argument("--missing", choices=("error", "skip"), default="error")
p.add_argument("--per-class", type=int, help="keep the first N images of each class")
p.add_argument("--image-size", type=int, required=True)
p.add_argument("--classes-from", help="an index whose class list (wnids) this split uses")
p.add_argument("--out", required=True)
add_job_args(p)
args = p.parse_args()

start_job(args)
wnids = list(load_index(args.classes_from)["wnids"]) if args.classes_from else None
index = build_index(args.image_root, args.saliency_root, args.split, args.saliency_name, args.saliency_size,
                    wnids, args.per_class, args.missing, args.image_size, workers=max(1, args.threads))
write_index(index, args.out)
print(f"{args.split}: {len(index['labels'])} images of {len(index['wnids'])} classes with saliency maps -> {args.out}")
