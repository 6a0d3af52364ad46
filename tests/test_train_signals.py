"""No stop signal loses training: SIGTERM at each point of the trainer's final phase, and after it."""

import os
import pathlib
import signal
import subprocess
import sys

import pytest
import torch

from seqjepa_core import train
from tests.test_train import assert_same_weights, make_run, read_losses, spec

REPO = pathlib.Path(__file__).resolve().parents[1]

# The final phase, in order: the finished resume state, the three declared outputs, removing the state.
POINTS = ["state/last.pt", "config.json", "metrics.csv", "checkpoint.pt", "unlink state"]


@pytest.fixture(scope="module")
def reference_run(tiny_3diebench, tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    train.pretrain(make_run(), spec(tiny_3diebench), out, device="cpu", show_progress=False)
    return out


@pytest.fixture
def leaked(monkeypatch):
    """The test's own SIGTERM handler: a signal the trainer does not handle lands here instead of
    killing pytest (the default action), and the test sees it."""
    got = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: got.append(signum))
    yield got
    signal.signal(signal.SIGTERM, previous)


def sigterm_before(point: str, monkeypatch) -> None:
    """Send SIGTERM to this process just before the final phase does ``point``."""
    in_final = {"on": False}
    final_save = train.final_save

    def tracked(s):
        in_final["on"] = True
        return final_save(s)

    def before(fn, hit):
        def wrapped(*args, **kwargs):
            if in_final["on"] and hit(*args):
                os.kill(os.getpid(), signal.SIGTERM)
            return fn(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(train, "final_save", tracked)
    if point == "unlink state":
        monkeypatch.setattr(pathlib.Path, "unlink", before(pathlib.Path.unlink, lambda p, *a: p.name == "last.pt"))
        return
    writer = {"state/last.pt": "atomic_torch_save", "checkpoint.pt": "atomic_torch_save",
              "config.json": "atomic_write_json", "metrics.csv": "_write_metrics"}[point]
    name = pathlib.Path(point).name
    monkeypatch.setattr(train, writer, before(getattr(train, writer), lambda obj, path, *a: pathlib.Path(path).name == name))


@pytest.mark.parametrize("point", POINTS)
def test_sigterm_at_each_point_of_the_final_phase_finishes_the_run(point, tiny_3diebench, reference_run,
                                                                    tmp_path, monkeypatch, leaked):
    sigterm_before(point, monkeypatch)
    train.pretrain(make_run(), spec(tiny_3diebench), tmp_path, device="cpu", show_progress=False)
    assert leaked == [], "the signal reached the previous handler: without one it would have killed the job"
    assert train.STOP.signum == signal.SIGTERM  # it did arrive, and the trainer recorded it
    assert (tmp_path / "config.json").exists() and not (tmp_path / "state" / "last.pt").exists()
    assert read_losses(tmp_path / "metrics.csv") == read_losses(reference_run / "metrics.csv")
    assert_same_weights(tmp_path / "checkpoint.pt", reference_run / "checkpoint.pt")


def test_rerun_after_a_kill_in_the_final_phase_only_rewrites_the_outputs(tiny_3diebench, reference_run, tmp_path,
                                                                         monkeypatch):
    # SIGKILL cannot be handled: model it as the process dying just before config.json.
    def die(obj, path):
        raise SystemExit(137)

    monkeypatch.setattr(train, "atomic_write_json", die)
    with pytest.raises(SystemExit):
        train.pretrain(make_run(), spec(tiny_3diebench), tmp_path, device="cpu", show_progress=False)
    monkeypatch.undo()
    for name in ("checkpoint.pt", "metrics.csv", "config.json"):  # Snakemake deletes a failed job's outputs
        (tmp_path / name).unlink(missing_ok=True)
    steps = []
    step = train.step
    monkeypatch.setattr(train, "step", lambda *a: steps.append(1) or step(*a))
    train.pretrain(make_run(), spec(tiny_3diebench), tmp_path, device="cpu", show_progress=False)
    assert steps == []  # no training: the finished state was kept
    assert read_losses(tmp_path / "metrics.csv") == read_losses(reference_run / "metrics.csv")
    assert_same_weights(tmp_path / "checkpoint.pt", reference_run / "checkpoint.pt")
    assert not (tmp_path / "state" / "last.pt").exists()


def test_resume_state_and_checkpoint_load_weights_only(reference_run, tiny_3diebench, tmp_path):
    with pytest.raises(train.Preempted):
        train.pretrain(make_run(), spec(tiny_3diebench), tmp_path, device="cpu", signal_at_step=4,
                       show_progress=False)
    for path in (tmp_path / "state" / "last.pt", reference_run / "checkpoint.pt"):
        assert isinstance(torch.load(path, weights_only=True), dict)


def test_pretrain_job_keeps_signals_handled_until_it_exits(tiny_3diebench, tmp_path):
    """The rule's script: SIGTERM during the final writes and again after pretrain() returned -> exit 0."""
    run = make_run(epochs=1)
    code = f"""
import os, runpy, signal, sys
from seqjepa_core import train
final_save = train.final_save
def final(s):
    os.kill(os.getpid(), signal.SIGTERM)
    return final_save(s)
train.final_save = final
sys.argv = ["pretrain.py", "--run-json", {run.to_json()!r}, "--index", {tiny_3diebench['train']!r},
            "--root", {tiny_3diebench['root']!r}, "--out-dir", {str(tmp_path)!r}, "--device", "cpu", "--threads", "1"]
runpy.run_path({str(REPO / 'workflow_scripts' / 'pretrain.py')!r}, run_name="__main__")
os.kill(os.getpid(), signal.SIGTERM)  # between the script's last line and the interpreter's exit
"""
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "checkpoint.pt").exists() and not (tmp_path / "state" / "last.pt").exists()
