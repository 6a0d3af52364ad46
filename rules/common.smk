# Config validation (once, at DAG build) and the path helpers every rule uses.
import json
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)  # seqjepa_core works from a plain checkout, installed or not
from seqjepa_core.config import ConfigError, load_config
from seqjepa_core.data.registry import get_dataset_info
from seqjepa_core.methods import get_method_class

CFG = load_config(config)
RESULTS = CFG.results_dir
# Scripts import seqjepa_core from this checkout whether or not it is pip-installed in the job's env;
# under --sdm conda the interpreter is the rule's environment's (envs/pytorch.yaml), else Snakemake's own.
from snakemake.settings.types import DeploymentMethod

USE_CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
PYTHON = f"PYTHONPATH={workflow.basedir}${{PYTHONPATH:+:$PYTHONPATH}} " + ("python" if USE_CONDA else sys.executable)
CONDA_ENV = str(Path(workflow.basedir) / "envs" / "pytorch.yaml")
SCRIPTS = Path(workflow.basedir) / "workflow_scripts"
RUN_DIR = RESULTS + "/runs/{experiment}/{method}/{variant}/seed{seed}"


wildcard_constraints:
    experiment="[A-Za-z0-9_.-]+",
    method="[A-Za-z0-9_-]+",
    variant="[A-Za-z0-9_.-]+",
    seed="[0-9]+",
    split="[a-z]+",
    table="[A-Za-z0-9_-]+",
    figure="[A-Za-z0-9_-]+",


def one_of(names):
    """A wildcard constraint matching exactly these names: rules sharing an output folder stay unambiguous."""
    import re
    return "|".join(re.escape(n) for n in names) or "(?!)"


def dataset_ready(name):
    """The marker a dataset's download/generation rule leaves, or nothing for a copy already on disk."""
    ds = CFG.datasets[name]
    root = Path(ds.root)
    on_disk = root.is_dir() and any(p.name != ".complete" for p in root.iterdir())
    if ds.source == "local" or (ds.source == "download" and on_disk and not (root / ".complete").exists()):
        if not on_disk:
            raise ConfigError(
                f"datasets.{name}.root: {ds.root} does not exist or is empty; point it at your copy, or set "
                f"datasets.{name}.source: download so that rule {get_dataset_info(name).download_rule} fetches it")
        return []
    return [f"{ds.root}/.complete"]


def index_path(experiment, split):
    return f"{RESULTS}/index/{CFG.experiments[experiment].dataset}/{split}.npz"


def run_config(w):
    return CFG.run_config(w.experiment, w.method, w.variant, int(w.seed))


def run_dir(experiment, method, variant, seed):
    return RUN_DIR.format(experiment=experiment, method=method, variant=variant, seed=seed)


def checkpoint_path(experiment, method, variant, seed):
    """A run's weights: trained by rule pretrain, or a released checkpoint imported by rule import_released."""
    if CFG.released(experiment, method, variant) is not None:
        return f"{RESULTS}/released/{experiment}/{method}/{variant}/seed{seed}/checkpoint.pt"
    return f"{run_dir(experiment, method, variant, seed)}/checkpoint.pt"


def table_probes(table):
    t = CFG.tables[table]
    runs = dict.fromkeys((row.experiment or t.experiment, row.method, row.variant) for row in t.rows)
    return [f"{run_dir(e, m, v, s)}/probe.json" for (e, m, v) in runs for s in CFG.seeds(e, m, v)]


def figure_inputs(name):
    """What a figure reads: its table (tradeoff), its runs' probe results (heatmap: the first seed of each
    variant; path_integration: every seed) or the test split's index (fixations)."""
    f = CFG.figures[name]
    if f.kind in ("tradeoff", "table_heatmap"):  # table_heatmap: one panel per table (Figs. 10-11)
        return [f"{RESULTS}/tables/{t}.csv" for t in (f.table, *f.panels)]
    if f.kind == "fixations":
        return [index_path(f.experiment, get_dataset_info(CFG.experiments[f.experiment].dataset).test_split)]
    seeds = lambda v: CFG.seeds(f.experiment, f.method, v)[:1] if f.kind == "heatmap" else CFG.seeds(f.experiment, f.method, v)
    return [f"{run_dir(f.experiment, f.method, v, s)}/probe.json" for v in f.variants for s in seeds(v)]


def figure_spec(w):
    f = CFG.figures[w.figure]
    spec = {"kind": f.kind, "figure": w.figure, "title": f.title}
    if f.kind == "fixations":
        run = CFG.run_config(f.experiment, *next((m, v) for m, vs in CFG.experiments[f.experiment].runs.items()
                                                 for v in vs), 0)
        spec["data"] = run.data
    return json.dumps(spec)


def all_targets():
    return ([f"{RESULTS}/tables/{t}.csv" for t, table in CFG.tables.items() if table.in_all]
            + [f"{RESULTS}/figures/{f}.png" for f in CFG.figures])
