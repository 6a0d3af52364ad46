"""Dataset registry: what the config may name, without importing torch (the DAG is built from it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    action_kinds: tuple[str, ...]   # valid values of experiments.<name>.actions
    train_split: str                # pretraining and probe-fitting split
    test_split: str                 # probe evaluation split
    download_rule: str              # the Snakemake rule that fetches it
    module: str                     # seqjepa_core.data.<module>: Sequences, MEAN/STD, ACTION_DIMS, ...


AUGMENT_ACTIONS = ("crop+jitter+blur", "crop", "jitter", "blur", "none")

DATASETS: dict[str, DatasetInfo] = {
    "3diebench": DatasetInfo("3diebench", ("rotation", "rotcolor"), "train", "val", "download_3diebench", "threedie"),
    # Hand-crafted augmentations as actions (paper §5.1, Table 2); kinds as in seqjepa_core.data.augment
    "cifar100": DatasetInfo("cifar100", AUGMENT_ACTIONS, "train", "test", "download_cifar100", "cifar100"),
    "tinyimagenet": DatasetInfo("tinyimagenet", AUGMENT_ACTIONS, "train", "val", "download_tinyimagenet",
                                "tinyimagenet"),  # val is the test set (the test split has no labels)
}


def get_dataset_info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; valid: {sorted(DATASETS)}") from None
