"""envs/pytorch.yaml (for `snakemake --sdm conda`) must provide every runtime dependency
declared in pyproject.toml [project].dependencies, with compatible version constraints."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
ENV_FILE = REPO / "envs" / "pytorch.yaml"

# PyPI name -> conda-forge name, where they differ
CONDA_NAME = {"matplotlib": "matplotlib-base"}


def pyproject():
    with open(REPO / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def conda_spec(spec: str) -> tuple[str, SpecifierSet]:
    """'numpy>=1.26' / 'python=3.11' / 'pip' -> (canonical name, PEP 440 specifiers)."""
    m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", spec)
    name, rest = m.group(1), m.group(2).replace(" ", "")
    parts = []
    for c in filter(None, rest.split(",")):
        if re.fullmatch(r"=[^=].*", c):  # conda "=3.11" means 3.11.*
            c = "==" + c[1:].rstrip(".*") + ".*"
        parts.append(c)
    return canonicalize_name(name), SpecifierSet(",".join(parts))


def env_packages() -> dict[str, tuple[str, SpecifierSet]]:
    """canonical name -> (where: 'conda'|'pip', specifiers)."""
    env = yaml.safe_load(ENV_FILE.read_text())
    out = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for spec in dep.get("pip", []):
                req = Requirement(spec)
                out[canonicalize_name(req.name)] = ("pip", req.specifier)
        else:
            name, spec = conda_spec(dep)
            out[name] = ("conda", spec)
    return out


def lower_bound(spec: SpecifierSet) -> Version | None:
    bounds = [Version(s.version.rstrip(".*")) for s in spec if s.operator in (">=", "==", "~=", "===")]
    bounds += [Version(s.version) for s in spec if s.operator == ">"]
    return max(bounds) if bounds else None


def upper_bound(spec: SpecifierSet) -> Version | None:
    bounds = [Version(s.version) for s in spec if s.operator in ("<", "<=")]
    return min(bounds) if bounds else None


def assert_compatible(what: str, env_spec: SpecifierSet, req_spec: SpecifierSet):
    """The env may only narrow the pyproject range: its lower bound must satisfy the
    requirement, and any pyproject upper bound must be repeated (or tightened)."""
    if req_spec:
        low = lower_bound(env_spec)
        assert low is not None, f"{what}: pyproject requires '{req_spec}', env has no lower bound"
        assert req_spec.contains(low, prereleases=True), \
            f"{what}: env allows {low}, pyproject requires '{req_spec}'"
    req_up = upper_bound(req_spec)
    if req_up is not None:
        env_up = upper_bound(env_spec)
        eq = [s for s in env_spec if s.operator == "=="]
        assert env_up is not None and env_up <= req_up or eq, \
            f"{what}: pyproject caps at {req_up}, env '{env_spec}' does not"


def test_env_file_is_a_conda_env():
    env = yaml.safe_load(ENV_FILE.read_text())
    assert set(env) >= {"channels", "dependencies"}
    assert "defaults" not in env["channels"]  # licensing + reproducibility: conda-forge only
    # the repo must not be installed from a relative path (resolves against .snakemake/conda/)
    pips = [s for d in env["dependencies"] if isinstance(d, dict) for s in d.get("pip", [])]
    assert not any(s.startswith(("-e", ".", "/")) for s in pips), pips


def test_python_version_matches_requires_python():
    pkgs = env_packages()
    assert "python" in pkgs
    _, spec = pkgs["python"]
    assert_compatible("python", spec, SpecifierSet(pyproject()["requires-python"]))


@pytest.mark.parametrize("dep", pyproject()["dependencies"])
def test_dependency_in_env(dep):
    req = Requirement(dep)
    name = canonicalize_name(req.name)
    pkgs = env_packages()
    conda_name = canonicalize_name(CONDA_NAME.get(name, name))
    found = pkgs.get(name) or pkgs.get(conda_name)
    assert found is not None, f"{req.name} (pyproject) missing from {ENV_FILE.name}"
    assert_compatible(req.name, found[1], req.specifier)


def test_snakemake_pinned_past_the_profile_runtime_bug():
    """Snakemake 9.16.3-9.19 read a bare `runtime` in a profile as seconds, not minutes (snakemake#4039):
    the SLURM profile's limits would be 60x too short. pyproject and the conda env both exclude them."""
    workflow = [Requirement(d) for d in pyproject()["optional-dependencies"]["workflow"]]
    req = next(r for r in workflow if canonicalize_name(r.name) == "snakemake")
    where, env_spec = env_packages()["snakemake"]
    assert "reports" in req.extras  # `snakemake --report` needs pygments
    for spec in (req.specifier, env_spec):
        assert spec.contains("9.20.0") and not any(spec.contains(v) for v in ("9.16.3", "9.19.0", "10.0.0"))
    assert_compatible("snakemake", env_spec, req.specifier)
