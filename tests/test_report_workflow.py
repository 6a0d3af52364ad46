"""`snakemake --report` end to end on a tiny fixture results tree: the zip's HTML opens in headless Chromium
and shows every table as an HTML table, every figure and the training curves.

The fixture holds upstream outputs in their real formats (index markers, run directories with
``metrics.csv``, ``config.json``, ``provenance.json``, ``probe.json``) with increasing mtimes, so Snakemake
runs only the table, figure and report rules on them: seconds, not a demo run.
"""

import json
import math
import os
import shutil
import subprocess
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from snakemake.utils import update_config

from seqjepa_core.config import load_config
from seqjepa_core.methods import get_method_class
from seqjepa_core.provenance import run_provenance

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
KEEP_RUNS = {("simclr", "default"), ("sen", "default"), ("seqjepa", "mtr1"), ("seqjepa", "mtr3-random")}
ROWS = [{"label": "SimCLR", "method": "simclr"}, {"label": "SEN", "method": "sen"},
        {"label": "seq-JEPA (1, 1)", "method": "seqjepa", "variant": "mtr1", "m_val": 1},
        {"label": "seq-JEPA (1, 3)", "method": "seqjepa", "variant": "mtr1", "m_val": 3},
        {"label": "random init (3, 3)", "method": "seqjepa", "variant": "mtr3-random", "m_val": 3}]


def fixture_override(raw: dict, base: Path) -> dict:
    """The demo config cut down to Table 1 with four runs of two seeds, everything else removed (null)."""
    def others(section, keep):
        return {k: None for k, v in (raw.get(section) or {}).items() if v is not None and not keep(k, v)}

    runs = raw["experiments"]["3diebench"]["runs"]
    override = {"results_dir": str(base / "results"),
                "datasets": {**others("datasets", lambda k, v: False),
                             "3diebench": {"root": str(base / "data"), "splits_dir": str(base / "splits")}},
                "experiments": {**others("experiments", lambda k, v: False), "3diebench": {
                    "seeds": [0, 1], "runs": {m: {v: None for v in vs if (m, v) not in KEEP_RUNS}
                                              for m, vs in runs.items()}}},
                "tables": {**others("tables", lambda k, v: False), "3diebench": {"rows": ROWS}},
                "figures": others("figures", lambda k, v: v.get("table") == "3diebench")}
    for section, entries in raw.items():  # other settings' sections that point at experiments
        if section not in override and isinstance(entries, dict):
            dropped = others(section, lambda k, v: not (isinstance(v, dict) and "experiment" in v))
            if dropped:
                override[section] = dropped
    return override


def _touch_in_order(paths, start):
    for i, p in enumerate(paths):
        os.utime(p, (start + i, start + i))


def fake_run(run, out: Path) -> list[Path]:
    """A finished run's outputs in their real formats: a loss that falls, a warm-up then cosine lr."""
    out.mkdir(parents=True, exist_ok=True)
    e = np.arange(1, run.train.epochs + 1)
    lr = np.where(e <= 2, 1e-4 * e, 1e-3 * 0.5 * (1 + np.cos(np.pi * e / max(1, run.train.epochs))))
    loss = 4.0 * np.exp(-e / (8 + run.seed)) + 0.5
    rows = [f"{i},{i * 7},{l:.5f},{r:.6g},1.5,200.0" for i, l, r in zip(e, loss, lr)]
    (out / "metrics.csv").write_text("epoch,step,loss,lr,seconds,samples_per_s\n" + "\n".join(rows) + "\n"
                                     if rows else "")
    (out / "checkpoint.pt").write_bytes(b"fixture")
    (out / "config.json").write_text(json.dumps(json.loads(run.to_json())))
    (out / "provenance.json").write_text(json.dumps(run_provenance(torch.device("cpu"))))
    seq = get_method_class(run.method).aggregates_sequences
    rng = np.random.default_rng(run.seed)
    records = ([{"metric": "top1", "representation": "z_agg", "m_val": m, "value": 40 + 5 * m + rng.normal()}
                for m in run.probe.m_val] if seq else [])
    records += [{"metric": "top1", "representation": "encoder", "m_val": None, "value": 55 + rng.normal()},
                {"metric": "rel_rot_r2", "representation": "pair", "m_val": None, "value": 0.3 + rng.normal() / 50},
                {"metric": "indiv_rot_r2", "representation": "encoder", "m_val": None, "value": 0.4}]
    (out / "probe.json").write_text(json.dumps({"run": {"experiment": run.experiment, "method": run.method,
                                                        "variant": run.variant, "seed": run.seed,
                                                        "m_tr": run.m_tr, "epochs": run.train.epochs},
                                               "metrics": records}))
    return [out / f for f in ("checkpoint.pt", "metrics.csv", "config.json", "provenance.json", "probe.json")]


@pytest.fixture(scope="module")
def report_zip(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("report")
    configfiles = [REPO / "config.yaml", REPO / "config" / "demo.yaml", base / "fixture.yaml"]
    raw = {}
    for f in configfiles[:2]:
        update_config(raw, yaml.safe_load(f.read_text()))
    override = fixture_override(raw, base)
    (base / "fixture.yaml").write_text(yaml.safe_dump(override))
    update_config(raw, override)
    cfg = load_config(raw)
    results = Path(cfg.results_dir)
    upstream = [base / "data" / ".complete"] + [results / "index" / "3diebench" / f"{s}.npz" for s in ("train", "val")]
    for p in upstream:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"fixture")
    for key in cfg.run_keys():
        run = cfg.run_config(*key)
        upstream += fake_run(run, results / "runs" / run.experiment / run.method / run.variant / f"seed{run.seed}")
    _touch_in_order(upstream, start=1_700_000_000)
    snakemake = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory",
                 str(base), "--configfile", *map(str, configfiles)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for args in (["--cores", "1", "all"], ["--report", str(base / "report.zip")]):
        res = subprocess.run(snakemake + args, capture_output=True, text=True, env=env, timeout=300)
        assert res.returncode == 0, res.stdout + res.stderr
    return base / "report.zip"


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.th, self.img, self.tables, self._in_th = [], [], 0, False

    def handle_starttag(self, tag, attrs):
        self._in_th = tag == "th"
        self.tables += tag == "table"
        if tag == "img":
            self.img.append(dict(attrs).get("src", ""))

    def handle_data(self, data):
        if self._in_th and data.strip():
            self.th.append(data.strip())


def test_report_zip_holds_every_table_figure_and_training_curve(report_zip, tmp_path):
    with zipfile.ZipFile(report_zip) as z:
        names = z.namelist()
        z.extractall(tmp_path)
    files = {Path(n).name for n in names}
    assert {"report.html", "3diebench.html", "3diebench_tradeoff.png", "overview.html",
            "provenance.html"} <= files
    assert sum(n.endswith("/3diebench.png") for n in names) == 1  # the experiment's training curves
    html = (tmp_path / "report" / "report.html").read_text()
    for category in ("3DIEBench", "Overview", "Provenance"):
        assert f'"{category}"' in html


def chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--virtual-time-budget=5000", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


# What a reader does in the report: open the Overview category and its result. The app has no URL routes,
# so a copy of report.html calls the same handlers the navigation's clicks call.
SHOW_OVERVIEW = """<script>window.addEventListener("load", () => setTimeout(() => {
  const p = Object.keys(results).find(k => k.endsWith("overview.html"));
  app.showCategory("Overview"); app.showResultInfo(p);
  app.setView({content: "html", contentPath: results[p].data_uri}); }, 300));</script>"""


def open_overview_in_app(report: Path) -> Path:
    html = report.read_text()
    end = html.rindex("</body>")
    shown = report.with_name("show_overview.html")
    shown.write_text(html[:end] + SHOW_OVERVIEW + html[end:])
    return shown


def colour_pixels(pixels: np.ndarray, rgb: tuple[int, int, int], tol: int) -> int:
    return int(np.all(np.abs(pixels.astype(int) - rgb) <= tol, axis=1).sum())


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (Debian: apt-get install -y chromium; .ci/run does)")
def test_report_renders_in_headless_chromium(report_zip, tmp_path):
    with zipfile.ZipFile(report_zip) as z:
        z.extractall(tmp_path)
    report = tmp_path / "report" / "report.html"
    # The report app renders offline: its navigation lists the settings' categories as text.
    dom = chromium("--dump-dom", report.as_uri(), cwd=tmp_path).stdout
    assert "<nav" in dom and all(f">{c}<" in dom for c in ("3DIEBench", "Overview", "Provenance"))
    # The overview page: every table as an HTML table with its headers, every figure as an image.
    overview = next((tmp_path / "report").rglob("overview.html"))
    page = _Collect()
    page.feed(chromium("--dump-dom", overview.as_uri(), cwd=tmp_path).stdout)
    assert page.tables == 1 and {"Row", "ours", "paper", "gap", "Top-1 (%)"} <= set(page.th)
    assert len(page.img) == 2 and all(src.startswith("data:image/png;base64,") for src in page.img)
    # On screen, inside the report app: the table header's fill, the figure's and the curves' colours.
    shot = tmp_path / "report.png"
    chromium(f"--screenshot={shot}", "--window-size=1400,3000", open_overview_in_app(report).as_uri(), cwd=tmp_path)
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3)
    assert colour_pixels(pixels, (0xEE, 0xF1, 0xF5), 2) > 2000, "no table header drawn"
    # matplotlib's red of the invariant-equivariant family (Fig. 3), the orange of seed 1 (training curves)
    assert colour_pixels(pixels, (0xD6, 0x27, 0x28), 12) > 50, "figure not drawn"
    assert colour_pixels(pixels, (0xFF, 0x7F, 0x0E), 12) > 50, "training curves not drawn"
    assert colour_pixels(pixels, (0x1E, 0x29, 0x3B), 40) > 1000  # the app's dark navigation bar
    assert len(np.unique(pixels, axis=0)) > 200 and not math.isclose(pixels.std(), 0)
