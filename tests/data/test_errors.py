"""One DatasetFileError (seqjepa_core.data.errors) for every dataset module: one ``except`` catches them all."""

import importlib

from seqjepa_core.data.errors import DatasetFileError
from seqjepa_core.data.registry import DATASETS


def test_every_registered_dataset_module_raises_the_shared_error():
    modules = {info.module for info in DATASETS.values()}
    assert len(modules) >= 5
    for name in sorted(modules):
        assert importlib.import_module(name).DatasetFileError is DatasetFileError, name
