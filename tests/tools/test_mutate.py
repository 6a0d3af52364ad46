"""tools/mutate.py runs one module group at a time; a plain ``mutmut run`` from the repository root reads
pyproject.toml instead, so its section must cover the same modules and tests."""

import importlib.util
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _groups() -> dict[str, tuple[list[str], list[str]]]:
    spec = importlib.util.spec_from_file_location("mutate_tool", REPO / "tools" / "mutate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.GROUPS


def test_pyproject_mutmut_section_covers_every_group():
    section = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mutmut"]
    groups = _groups().values()
    assert sorted(section["only_mutate"]) == sorted(m for modules, _ in groups for m in modules)
    assert sorted(section["pytest_add_cli_args_test_selection"]) == sorted(t for _, tests in groups for t in tests)


def test_every_group_names_files_that_exist():
    for modules, tests in _groups().values():
        for path in modules + tests:
            assert list(REPO.glob(path)), f"{path}: named in tools/mutate.py but not in the repository"
