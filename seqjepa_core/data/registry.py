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
    paper_setting: str = ""         # the paper's setting (3DIEBench, augmentations, saccades): the report's
                                    # category for its tables, figures and training curves; "" = the name

    @property
    def report_category(self) -> str:
        return self.paper_setting or self.name


DATASETS: dict[str, DatasetInfo] = {
    "3diebench": DatasetInfo("3diebench", ("rotation", "rotcolor"), "train", "val", "download_3diebench",
                             paper_setting="3DIEBench"),
}


def get_dataset_info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; valid: {sorted(DATASETS)}") from None
