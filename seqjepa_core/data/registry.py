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
    evaluation_only: bool = False   # scored by probes trained elsewhere; never pretrained on (3DIEBench-OOD)


DATASETS: dict[str, DatasetInfo] = {
    "3diebench": DatasetInfo("3diebench", ("rotation", "rotcolor"), "train", "val", "download_3diebench"),
    # Table 9: rotations outside the training range, same format and classes; probes come from "3diebench".
    "3diebench_ood": DatasetInfo("3diebench_ood", ("rotation", "rotcolor"), "", "ood", "download_3diebench_ood",
                                 evaluation_only=True),
}


def get_dataset_info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; valid: {sorted(DATASETS)}") from None
