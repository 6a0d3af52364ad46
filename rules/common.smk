# Config validation (once, at DAG build) and the path helpers every rule uses.
import dataclasses
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
RUN_DIR = f"{RESULTS}/runs/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}"


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


def look_args(synthetic):
    """The generated 3DIEBench's rendering options (``synthetic_3diebench.Look``) as script flags."""
    flags = f"--paint {synthetic.paint} --camera-scale {synthetic.camera_scale}"
    return flags + (" --per-object-lighting" if synthetic.per_object_lighting else "")


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


def tables_in_all():
    return [t for t, table in CFG.tables.items() if table.in_all]


def experiments_outside_all():
    """Experiments only tables with `in_all: false` use (e.g. the high-compute regime): not trained by `all`."""
    used = {t.experiment for t in CFG.tables.values() if t.in_all}
    return {t.experiment for t in CFG.tables.values() if not t.in_all} - used


def trained_run_dirs(experiment):
    """The runs `all` trains here for an experiment: all configured ones, released weights excluded."""
    if experiment in experiments_outside_all():
        return []
    return [run_dir(*key) for key in CFG.run_keys(experiment) if CFG.released(*key[:3]) is None]


def probes_in_all():
    """The probe.json files `all` makes anyway (tables and figures); the training curves show those."""
    return ({p for t in tables_in_all() for p in table_probes(t)}
            | {p for f in CFG.figures for p in figure_inputs(f) if Path(p).name == "probe.json"})


def all_trained_run_dirs():
    return [d for e in CFG.experiments for d in trained_run_dirs(e)]


def experiment_category(experiment):
    """The report's category of an experiment's artefacts: its dataset's paper setting (data/registry.py)."""
    return get_dataset_info(CFG.experiments[experiment].dataset).report_category


def analysis_outputs(kind):
    """Analyses (rules/threedie_extras.smk) whose `all` output includes a `kind` (tables | figures) file:
    file name -> experiment."""
    ext = {"tables": "csv", "figures": "png"}[kind]
    made = set(extras_targets())
    return {name: a.experiment for n, a in CFG.analyses.items() for name in (n, f"{n}_curves")
            if f"{RESULTS}/{kind}/{name}.{ext}" in made}


def report_tables():
    """The table CSVs of `all` that the report renders: name -> (experiment, paper tables compared with)."""
    tables = {t: (CFG.tables[t].experiment, CFG.tables[t].paper_tables) for t in tables_in_all()}
    return tables | {n: (e, CFG.analyses[n].paper_tables) for n, e in analysis_outputs("tables").items()}


def figure_experiment(figure):
    f = CFG.figures[figure]
    return f.experiment or CFG.tables[f.table].experiment


def figure_source(figure):
    f = CFG.figures[figure]
    return f"table {f.table}" if f.table else f"the runs of experiment {f.experiment}"


def report_figures():
    """The figures of `all`: PNG name -> experiment."""
    return {f: figure_experiment(f) for f in CFG.figures} | analysis_outputs("figures")


def analysis_category(analysis):
    return experiment_category(CFG.analyses[analysis].experiment)


def table_category(table):
    return experiment_category(report_tables()[table][0])


def figure_category(figure):
    return experiment_category(report_figures()[figure])


def report_artefacts():
    """Every table, figure and training-curve figure, grouped by the report's category, in page order."""
    arts = ([dict(category=table_category(t), subcategory="tables", title=t, path=f"{RESULTS}/tables/{t}.csv")
             for t in report_tables()]
            + [dict(category=figure_category(f), subcategory="figures", title=f,
                    path=f"{RESULTS}/figures/{f}.png") for f in report_figures()]
            + [dict(category=experiment_category(e), subcategory="training", title=e,
                    path=f"{RESULTS}/figures/training/{e}.png") for e in CFG.experiments if trained_run_dirs(e)])
    order = list(dict.fromkeys(a["category"] for a in arts))
    return sorted(arts, key=lambda a: order.index(a["category"]))


def report_targets():
    return ([f"{RESULTS}/tables/{t}.html" for t in report_tables()]
            + [a["path"] for a in report_artefacts() if a["subcategory"] == "training"]
            + [f"{RESULTS}/provenance.html", f"{RESULTS}/overview.html"])


def all_targets():
    return ([f"{RESULTS}/tables/{t}.csv" for t in tables_in_all()]
            + [f"{RESULTS}/figures/{f}.png" for f in CFG.figures]
            + report_targets())
