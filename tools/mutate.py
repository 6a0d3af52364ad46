"""Mutation testing of the core modules with mutmut, one module group at a time (`make mutate`).

Each group is mutated in its own copy of the checkout (``results/mutation/<group>/``, so mutmut's
``mutants/`` directories and caches never mix) and runs only its own test files: a mutant of
``schedules.py`` is judged by the schedule tests, not by a 20-second training run. mutmut then runs, for
each mutant, the tests of that group that execute the mutated function.

    python tools/mutate.py                      # every group, every mutant (hours on 2 cores)
    python tools/mutate.py --sample 40 core     # a seeded sample of 40 mutants per module of group "core"

Writes ``results/mutation/summary.tsv`` (killed / tested per module) and ``survivors.txt`` (each surviving
mutant's diff), which docs/mutation.md reviews. Runs mutmut with one worker unless ``--jobs`` says more.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "results" / "mutation"

# group -> (modules mutated, test files judging them)
GROUPS: dict[str, tuple[list[str], list[str]]] = {
    "core": (["seqjepa_core/losses.py", "seqjepa_core/methods/*", "seqjepa_core/geometry.py",
              "seqjepa_core/ema.py", "seqjepa_core/schedules.py"],
             ["tests/methods", "tests/test_geometry.py", "tests/test_schedules.py"]),
    "config": (["seqjepa_core/config.py"], ["tests/test_config.py"]),
    "tables": (["seqjepa_core/tables.py"], ["tests/test_tables.py"]),
    "download": (["seqjepa_core/download.py"], ["tests/test_download.py"]),
    "train": (["seqjepa_core/train.py"], ["tests/test_train.py"]),
    "probes": (["seqjepa_core/probes.py", "seqjepa_core/evaluate.py", "seqjepa_core/probe_samplers/__init__.py",
                "seqjepa_core/probe_samplers/augmented.py", "seqjepa_core/probe_samplers/stl10.py",
                "seqjepa_core/probe_samplers/threedie.py"],
               ["tests/test_probes.py", "tests/test_evaluate.py", "tests/probe_samplers"]),
    "saccades": (["seqjepa_core/data/stl10.py", "seqjepa_core/data/fixations.py",
                  "seqjepa_core/data/saccade_options.py", "seqjepa_core/data/full_image_views.py"],
                 ["tests/data/test_stl10.py", "tests/data/test_fixations.py", "tests/data/test_saccade_options.py",
                  "tests/data/test_full_image_views.py"]),
    "images": (["seqjepa_core/data/augment.py", "seqjepa_core/data/cifar100.py",
                "seqjepa_core/data/tinyimagenet.py", "seqjepa_core/data/image_arrays.py"],
               ["tests/data/test_augment.py", "tests/data/test_cifar100.py", "tests/data/test_tinyimagenet.py",
                "tests/data/test_image_arrays.py"]),
    "analyses": (["seqjepa_core/released.py", "seqjepa_core/retrieval.py", "seqjepa_core/analyses.py",
                  "seqjepa_core/path_integration.py"],
                 ["tests/test_released.py", "tests/test_retrieval.py", "tests/test_analyses.py",
                  "tests/test_path_integration.py"]),
    "transfer": (["seqjepa_core/transfer.py", "seqjepa_core/data/imagenet_saliency.py",
                  "seqjepa_core/probe_samplers/imagenet_transfer.py"],
                 ["tests/test_transfer.py", "tests/data/test_imagenet_saliency.py"]),
}
# Tests that run a group's code only in a subprocess (a whole snakemake DAG): mutmut records which tests
# execute a function in its own process only, so it would never pick them for a mutant, and its stats
# pass fails in the subprocess (mutmut's hook there finds no configuration). Left out of that group.
DESELECT: dict[str, list[str]] = {
    "analyses": ["tests/test_released.py::test_download_import_probe_table_through_the_dag"],
}
KILLED = {"killed", "caught by type check"}


def toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def prepare(group: str) -> Path:
    """The group's copy of the checkout (tracked and untracked, not ignored) with its mutmut config. An
    existing copy is updated in place: mutmut keeps its results and regenerates what changed."""
    modules, tests = GROUPS[group]
    work = OUT / group
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, check=True,
                           capture_output=True, text=True).stdout.split()
    for f in files:
        if (REPO / f).is_file():
            (work / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, work / f)
    # A module added to the group since the last run was only copied into mutants/ then, and mutmut takes a
    # copy newer than its source for one it has mutated: drop such copies so that they get mutated, and the
    # test statistics, which know nothing of the new module's functions.
    for pattern in modules:
        for src in work.glob(pattern):
            copy = work / "mutants" / src.relative_to(work)
            if copy.is_file() and not copy.with_name(copy.name + ".meta").exists():
                copy.unlink()
                (work / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    pyproject = (work / "pyproject.toml").read_text()
    also_copy = ["config.yaml", "config", "workflow_scripts", "rules", "Snakefile", "slurm", "envs", "report"]
    pytest_args = ["-p", "no:cacheprovider", "-m", "not slow", "-q", "-x"]
    pytest_args += [arg for test in DESELECT.get(group, []) for arg in ("--deselect", test)]
    section = (f'[tool.mutmut]\nsource_paths = ["seqjepa_core"]\nonly_mutate = {toml_list(modules)}\n'
               f'also_copy = {toml_list(also_copy)}\n'
               f'pytest_add_cli_args = {toml_list(pytest_args)}\n'
               f'pytest_add_cli_args_test_selection = {toml_list(tests)}\n'
               f'process_isolation = "forkserver"\n'
               # mutmut also stops a mutant's tests after (estimated time + 1 s) * multiplier of WALL time; at
               # nice 19 on a shared 2-core machine its default (15) stopped tests that fail in 4 CPU seconds
               f'timeout_multiplier = 60.0\n')
    # the section runs to the next table header (a line starting with "["), not to the first "[" in it
    pyproject = re.sub(r"^\[tool\.mutmut\]\n(?:(?!\[)[^\n]*\n?)*", section, pyproject, flags=re.M)
    (work / "pyproject.toml").write_text(pyproject)
    return work


def mutmut(work: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # mutmut puts mutants/ on the path
    env.setdefault("OMP_NUM_THREADS", "1")
    exe = Path(sys.executable).with_name("mutmut")
    return subprocess.run([str(exe), *args], cwd=work, env=env, capture_output=True, text=True)


def statuses(work: Path) -> dict[str, str]:
    out = mutmut(work, "results", "--all", "true").stdout
    return dict(re.findall(r"^\s+(\S+): (.+)$", out, flags=re.M))


def module_of(mutant: str) -> str:
    return mutant.split(".x_")[0].split(".xǁ")[0]


def draw_sample(names: list[str], sample: int | None, seed: int) -> list[str]:
    """Per module, the first ``sample`` mutants of a seeded shuffle: a smaller sample is a prefix of a
    larger one, so results carry over between runs of different sizes."""
    by_module = collections.defaultdict(list)
    for name in sorted(names):
        by_module[module_of(name)].append(name)
    drawn = []
    for mod, mutants in sorted(by_module.items()):
        random.Random(f"{seed}:{mod}").shuffle(mutants)
        drawn += mutants[:sample] if sample else mutants
    return drawn


def run_group(group: str, sample: int | None, seed: int, jobs: int) -> None:
    work = prepare(group)
    started = time.time()
    # (Re)generate the mutants of changed sources and the test statistics, testing no mutant, so the
    # sample is drawn from the mutants of the current code.
    mutmut(work, "run", "--max-children", str(jobs), "no-such-mutant")
    before = statuses(work)
    names = draw_sample(list(before), sample, seed)
    (work / "sample.txt").write_text("\n".join(names) + "\n")
    todo = [n for n in names if before[n] not in KILLED]  # killed stays killed: tests only get added
    if todo:
        proc = mutmut(work, "run", "--max-children", str(jobs), *todo)
        (work / "mutmut-run.log").write_text(proc.stdout[-20000:] + proc.stderr[-20000:])
    wall = time.time() - started
    (work / "wall_seconds.txt").write_text(f"{wall:.0f}\n")
    print(f"{group}: {len(todo)} of {len(names)} sampled mutants run in {wall:.0f} s", flush=True)


def write_report() -> None:
    """summary.tsv and survivors.txt over every group run so far (each group's directory under OUT)."""
    rows, group_of, survivors = collections.defaultdict(collections.Counter), {}, []
    for group in GROUPS:
        if not (OUT / group / "mutants").is_dir():
            continue
        sample = set((OUT / group / "sample.txt").read_text().split())
        for name, status in sorted(statuses(OUT / group).items()):
            if name not in sample:
                continue
            mod = module_of(name)
            group_of[mod] = group
            if status == "not checked":  # sampled, but the run was stopped before it got there
                rows[mod]["not run"] += 1
                continue
            rows[mod][status] += 1
            if status not in KILLED:
                survivors.append(f"## {status}: {name}\n{mutmut(OUT / group, 'show', name).stdout}\n")
    lines = ["group\tmodule\tkilled\ttested\tsurvived\tother\tnot_run\tkilled_pct\tgroup_wall_s"]
    for mod in sorted(rows):
        wall = OUT / group_of[mod] / "wall_seconds.txt"
        c = rows[mod]
        killed, survived, not_run = sum(c[s] for s in KILLED), c["survived"], c["not run"]
        tested = sum(c.values()) - not_run
        lines.append(f"{group_of[mod]}\t{mod}\t{killed}\t{tested}\t{survived}\t{tested - killed - survived}\t"
                     f"{not_run}\t{100 * killed / max(1, tested):.1f}\t{wall.read_text().strip() if wall.exists() else ''}")
    (OUT / "summary.tsv").write_text("\n".join(lines) + "\n")
    (OUT / "survivors.txt").write_text("\n".join(survivors))
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("groups", nargs="*", metavar="GROUP", help=f"module groups: {', '.join(GROUPS)} (default: all)")
    ap.add_argument("--sample", type=int, default=None, help="mutants drawn per module (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1, help="mutmut worker processes")
    ap.add_argument("--report", action="store_true", help="only rebuild the report from the groups already run")
    args = ap.parse_args()
    unknown = sorted(set(args.groups) - set(GROUPS))
    if unknown:
        ap.error(f"unknown group(s) {unknown}; valid: {list(GROUPS)}")
    OUT.mkdir(parents=True, exist_ok=True)
    if args.report:
        write_report()
        return
    for group in args.groups or list(GROUPS):
        run_group(group, args.sample, args.seed, args.jobs)
        write_report()  # after each group, so a stopped run still leaves its report


if __name__ == "__main__":
    main()
