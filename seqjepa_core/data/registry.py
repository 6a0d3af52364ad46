"""Dataset registry: what the config may name, without importing torch (the DAG is built from it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from seqjepa_core.data.saccade_options import parse_saccade_options


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    action_kinds: tuple[str, ...]   # valid values of experiments.<name>.actions
    train_split: str                # probe-fitting split (and the pretraining split unless pretrain_split)
    test_split: str                 # probe evaluation split
    download_rule: str              # the Snakemake rule that fetches it
    module: str                     # the module with Sequences or build_stream, MEAN/STD, ACTION_DIMS, ...
    pretrain_split: str | None = None
    # validates experiments.<e>.data / runs.<m>.<v>.data (None: the dataset takes no data options)
    parse_options: Callable[[dict, str], object] | None = None
    evaluation_only: bool = False   # scored by probes trained elsewhere; never pretrained on (3DIEBench-OOD)
    paper_setting: str = ""         # the paper's setting (3DIEBench, augmentations, saccades): the report's
                                    # category for its tables, figures and training curves; "" = the name

    @property
    def report_category(self) -> str:
        return self.paper_setting or self.name

    @property
    def pretraining_split(self) -> str:
        return self.pretrain_split or self.train_split


AUGMENT_ACTIONS = ("crop+jitter+blur", "crop", "jitter", "blur", "none")

DATASETS: dict[str, DatasetInfo] = {
    "3diebench": DatasetInfo("3diebench", ("rotation", "rotcolor"), "train", "val", "download_3diebench",
                             "seqjepa_core.data.threedie", paper_setting="3DIEBench"),
    # Table 9: rotations outside the training range, same format and classes; probes come from "3diebench".
    "3diebench_ood": DatasetInfo("3diebench_ood", ("rotation", "rotcolor"), "", "ood", "download_3diebench_ood",
                                 "seqjepa_core.data.threedie", evaluation_only=True, paper_setting="3DIEBench"),
    # STL-10 saccades (paper §4.3): pretraining on the 100k unlabeled images, probes on train (5k) / test (8k)
    "stl10": DatasetInfo("stl10", ("position",), "train", "test", "download_stl10", "seqjepa_core.data.stl10",
                         pretrain_split="unlabeled", parse_options=parse_saccade_options,
                         paper_setting="saccades"),
    # Hand-crafted augmentations as actions (paper §5.1, Table 2); kinds as in seqjepa_core.data.augment
    "cifar100": DatasetInfo("cifar100", AUGMENT_ACTIONS, "train", "test", "download_cifar100",
                            "seqjepa_core.data.cifar100", paper_setting="augmentations"),
    "tinyimagenet": DatasetInfo("tinyimagenet", AUGMENT_ACTIONS, "train", "val", "download_tinyimagenet",
                                "seqjepa_core.data.tinyimagenet", paper_setting="augmentations"),  # val is the test set (test has no labels)
    # Fig. 15: ImageNet-1k saccades, only probed (a frozen STL-10 model; config `transfer:`), never pretrained on
    "imagenet": DatasetInfo("imagenet", ("position",), "train", "val", "download_salmap_imagenet",
                            "seqjepa_core.data.imagenet_saliency", parse_options=parse_saccade_options,
                            evaluation_only=True, paper_setting="saccades"),
}


def get_dataset_info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; valid: {sorted(DATASETS)}") from None
