"""Typed pipeline configuration, validated once when the Snakemake DAG is built.

``config.yaml`` (plus any ``--configfile`` override, e.g. ``config/demo.yaml``) is turned into frozen
dataclasses here. Every error names the offending key path and, where there is a closed set, the valid
choices, so a typo fails in a second instead of after a day of training.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import types
import typing
import warnings
from dataclasses import dataclass, field
from typing import Any

from seqjepa_core.data.registry import DATASETS


class ConfigError(ValueError):
    """A configuration problem; the message names the key path."""


# ---------------------------------------------------------------------------------------------------
# Sections


@dataclass(frozen=True)
class ProbeConfig:
    """Frozen-probe protocol (paper §5.5)."""

    m_val: tuple[int, ...] = (1, 3, 5)   # observed views for the z_AGG probes
    epochs: int = 300                    # linear classifier and MLP regressors
    linear_epochs: int = 50              # linear regressors (colour)
    batch_size: int = 256
    lr: float = 1e-3                     # Adam, default hyper-parameters
    hidden: int = 1024
    test_draws: int = 5                  # seeded view draws per test object: the test score averages over
                                         # 5x the objects' view choices (the official eval draws once)
    path_m_val: tuple[int, ...] = ()     # path integration (Fig. 6) at these M; empty: none

    @classmethod
    def from_json(cls, text: str | dict, where: str = "probe") -> "ProbeConfig":
        """The protocol from its JSON form (as a rule passes it), validated; errors name ``where``'s keys."""
        return _build(cls, json.loads(text) if isinstance(text, str) else dict(text), where)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 1000
    batch_size: int = 512
    optimizer: str | None = None         # adam | adamw; None = the method's default (paper §5.4)
    lr: float | None = None              # None = the method's default
    weight_decay: float | None = None    # None = the method's default
    schedule: str | None = None          # warmup_cosine | constant; None = the method's default
    warmup_epochs: int = 20
    warmup_start_lr: float = 1e-5
    final_lr: float = 1e-5
    after_warmup: str = "cosine"         # cosine (paper) | constant (official code, §6.2)
    checkpoint_every: int = 10           # epochs between resumable checkpoints
    num_workers: int = 8
    log_every: int = 50                  # steps between progress-bar updates
    compile: bool = False                # torch.compile the encoder on CUDA


@dataclass(frozen=True)
class SyntheticConfig:
    """The demo's procedurally generated 3DIEBench."""

    classes: int = 5
    train_objects: int = 40              # per class
    val_objects: int = 10                # per class
    image_size: int = 64
    seed: int = 0
    unlabeled_images: int = 0            # STL-10: size of the pretraining split
    rotation_scale: tuple[float, ...] = (1.0, 1.0, 1.0)  # per-axis (x, y, z) fraction of 3DIEBench's
                                                         # (-pi/2, pi/2); < 1 narrows the demo's rotations
    paint: float = 0.0                   # 3DIEBench demo data: weight of the surface-normal colour (Look)
    camera_scale: float = 1.0            # 3DIEBench demo data: camera distance factor, <= 1 (Look)
    per_object_lighting: bool = False    # 3DIEBench demo data: view 0's floor and spot light in every view (Look)
    discs_per_colour: int = 1            # STL-10 demo data: discs of each class colour (demo: 2)
    light: float = 0.5                   # STL-10 demo data: dimming from the top row to the bottom one
    tint: float = 0.1                    # STL-10 demo data: red/blue shift from left to right column (demo: 0.25)


@dataclass(frozen=True)
class DatasetConfig:
    root: str
    splits_dir: str = ""
    source: str = "download"             # download | local | synthetic
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    revision: str | None = None          # Hub datasets: the pinned commit (or tag) to download
    saliency_root: str = ""              # STL-10: <split>/saliency_<split>.npy (HF Hafez/salmap-stl10)
    saliency_revision: str = "main"      # STL-10: Hub revision of the saliency maps (pin a commit sha)


@dataclass(frozen=True)
class ResourceConfig:
    gpus: int = 1
    cpus_per_gpu: int = 8
    mem_mb: int = 64000
    runtime: int = 1440                  # minutes


@dataclass(frozen=True)
class ReleasedConfig:
    """A checkpoint the authors published on the Hugging Face Hub (paper §7.3), evaluated in place of
    training; the file's name and the revision are configuration, since neither can be checked offline."""

    filename: str                        # path of the file inside the repo
    repo: str = "Hafez/seq-JEPA"
    revision: str = "main"               # a 40-hex commit pins it; a branch or tag is resolved at download
    repo_type: str = "model"


@dataclass(frozen=True)
class VariantConfig:
    m_tr: int = 1
    params: dict = field(default_factory=dict)   # the method's Params fields
    epochs: int | None = None                    # shortcut for train.epochs
    train: dict = field(default_factory=dict)    # TrainConfig overrides
    data: dict = field(default_factory=dict)     # data-option overrides (STL-10: the saccade sampler)
    seeds: tuple[int, ...] | None = None         # None = the experiment's seeds
    released: ReleasedConfig | None = None       # import these published weights instead of training


@dataclass(frozen=True)
class ExperimentConfig:
    dataset: str
    actions: str
    img_size: int
    seeds: tuple[int, ...]
    runs: dict                                   # method -> variant -> VariantConfig
    encoder_width: int = 64
    cifar_stem: bool = False
    train: TrainConfig = field(default_factory=TrainConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    normalization: str = "paper"          # paper | official: image mean/std (CIFAR/TIN differ, paper §5.1)
    action_norm: str = "sequence_l2"      # augmentation actions: sequence_l2 (official; the paper is silent:
                                          # each parameter L2-normalised over the sequence's views) | raw
    data: dict = field(default_factory=dict)     # the dataset's data options (STL-10: SaccadeOptions)
    resources: dict = field(default_factory=dict)  # job -> ResourceConfig fields overriding resources.<job>


@dataclass(frozen=True)
class TableRow:
    label: str
    method: str
    variant: str = "default"
    m_val: int | None = None
    experiment: str | None = None        # None = the table's; Table 2 mixes action-set experiments


@dataclass(frozen=True)
class TableConfig:
    experiment: str
    rows: tuple[TableRow, ...]
    paper_tables: tuple[str, ...] = ()   # tables of paper_numbers.csv to compare with, first match wins
    in_all: bool = True                  # built by `snakemake all`; False: only when asked for by name


@dataclass(frozen=True)
class FigureConfig:
    kind: str                                    # tradeoff | heatmap | path_integration | fixations
    table: str = ""                              # tradeoff: the table it plots
    experiment: str = ""                         # the other kinds: the experiment whose runs it reads
    method: str = "seqjepa"                      # heatmap / path_integration: the method of the runs
    variants: tuple[str, ...] = ()               # heatmap: one variant per M_tr; path_integration: one
    panels: tuple[str, ...] = ()                 # table_heatmap: tables after `table`, one panel each
    title: str = ""


@dataclass(frozen=True)
class AnalysisConfig:
    """An evaluation beyond the probe tables whose rows point at runs (3DIEBench: Tables 9, 10, Figs. 6b-8).

    Outputs: ``tables/<name>.csv``; ``path_integration`` also ``figures/<name>.png``; ``seq_length`` also
    ``figures/<name>.png`` (the heatmap) and ``figures/<name>_curves.png``; ``nn_grid`` (Fig. 4) and ``umap``
    (Fig. 5) only ``figures/<name>.png``, from each row's first seed.
    """

    kind: str                            # ood | retrieval | path_integration | seq_length | nn_grid | umap
    experiment: str
    rows: tuple[TableRow, ...]
    paper_tables: tuple[str, ...] = ()   # tables of paper_numbers.csv to compare with
    dataset: str | None = None           # ood: the evaluation-only dataset the probes are scored on
    m_val: tuple[int, ...] = ()          # path_integration / seq_length: the M_val axis
    seeds: tuple[int, ...] | None = None  # only these seeds of each run (seq_length: one model per cell)
    probe_epochs: int | None = None      # path_integration: epochs of its heads (None: the experiment's probe.epochs)
    in_all: bool = True


ANALYSIS_KINDS = ("ood", "retrieval", "path_integration", "seq_length", "nn_grid", "umap")


@dataclass(frozen=True)
class TransferConfig:
    """Fig. 15: a frozen pretrained run probed on another dataset's saccades (ImageNet-1k), outside ``all``.

    Outputs ``tables/<name>.csv`` and ``figures/<name>.png``; one probe job per patch size.
    """

    experiment: str                      # the pretrained runs (the STL-10 experiment)
    image_root: str                      # ILSVRC2012, provided by the user: train/<wnid>/*.JPEG, val/<wnid>/*.JPEG
    saliency_root: str                   # <split>/<saliency_name>, from saliency_repo (or a local copy)
    method: str = "seqjepa"
    variant: str = "mtr4"
    seed: int = 0                        # the paper uses one model per setting outside Tables 1-3
    dataset: str = "imagenet"            # the registry's entry (seqjepa_core.data.registry)
    saliency_source: str = "download"    # download (saliency_repo at saliency_revision) | local
    saliency_repo: str = "Hafez/ImageNet1k-Saliency-Maps"
    saliency_revision: str = "main"      # a 40-hex commit pins it; the marker records the commit fetched
    saliency_patterns: tuple[str, ...] = ("train/*", "val/*")   # repo files to fetch
    saliency_name: str = "<wnid>/<stem>_sal.npy"   # a map's path under <saliency_root>/<split>/ (ASSUMPTION)
    saliency_size: int | None = None     # None: maps at the image's native size; N: stored as N x N
    missing_saliency: str = "error"      # error | skip (the official loader skips images without a map)
    image_size: int = 224                # images and maps resized to this (paper: 224 x 224)
    patch_sizes: tuple[int, ...] = (32, 84)
    m_val: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    data: dict = field(default_factory=dict)   # saccade-sampler options; ior_radius defaults to patch / 2
    probe: ProbeConfig = field(default_factory=ProbeConfig)   # the linear probe (its m_val: the m_val above)
    train_per_class: int | None = None   # None: every training image; N: the first N per class (cheaper)
    num_workers: int = 8                 # image decoding processes of the probe job
    resources: ResourceConfig = field(default_factory=ResourceConfig)   # each probe job's (one per patch size)
    paper_table: str = "fig15"           # paper_numbers.csv's table to compare with

    def data_options(self, patch_size: int) -> dict:
        """The sampler's options at one patch size: inhibition of return scales with the fovea (r = patch / 2,
        the paper's 16 for 32-pixel patches; the official transfer loader does the same)."""
        return {"ior_radius": patch_size // 2, **self.data, "patch_size": patch_size}


@dataclass(frozen=True)
class RunConfig:
    """Everything one pretraining/probing job needs; serialised to JSON for the job and the checkpoint."""

    experiment: str
    method: str
    variant: str
    seed: int
    dataset: str
    actions: str
    img_size: int
    encoder_width: int
    cifar_stem: bool
    m_tr: int
    params: dict
    train: TrainConfig
    probe: ProbeConfig
    data: dict = field(default_factory=dict)     # data options (defaults of the dataset filled in)
    normalization: str = "paper"
    action_norm: str = "sequence_l2"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | dict) -> "RunConfig":
        raw = json.loads(text) if isinstance(text, str) else dict(text)
        return _build(cls, raw, "run")

    def fingerprint(self) -> str:
        """Hash of what determines the training trajectory (a resume must match it)."""
        d = dataclasses.asdict(self)
        d["train"] = {k: v for k, v in d["train"].items() if k not in ("num_workers", "log_every")}
        d.pop("probe")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class PipelineConfig:
    results_dir: str
    device: str
    datasets: dict
    experiments: dict
    tables: dict
    figures: dict
    resources: dict
    analyses: dict = field(default_factory=dict)
    transfer: dict = field(default_factory=dict)   # name -> TransferConfig (Fig. 15, outside `all`)

    def run_keys(self, experiment: str | None = None) -> list[tuple[str, str, str, int]]:
        """Every (experiment, method, variant, seed) the config defines."""
        return [(e, m, v, s) for e, exp in self.experiments.items() if experiment in (None, e)
                for m, variants in exp.runs.items() for v in variants for s in self.seeds(e, m, v)]

    def seeds(self, experiment: str, method: str, variant: str) -> tuple[int, ...]:
        exp: ExperimentConfig = self.experiments[experiment]
        var: VariantConfig = exp.runs[method][variant]
        return var.seeds if var.seeds is not None else exp.seeds

    def released(self, experiment: str, method: str, variant: str) -> ReleasedConfig | None:
        return self.experiments[experiment].runs[method][variant].released

    def job_resources(self, experiment: str, job: str) -> ResourceConfig:
        """``resources.<job>``, with the experiment's overrides (e.g. 4 GPUs for the high-compute regime)."""
        return self.experiments[experiment].resources.get(job, self.resources[job])

    def run_config(self, experiment: str, method: str, variant: str, seed: int) -> RunConfig:
        exp: ExperimentConfig = self.experiments[experiment]
        var: VariantConfig = exp.runs[method][variant]
        train = dataclasses.replace(exp.train, **var.train)
        if var.epochs is not None:
            train = dataclasses.replace(train, epochs=var.epochs)
        return RunConfig(experiment, method, variant, int(seed), exp.dataset, exp.actions, exp.img_size,
                         exp.encoder_width, exp.cifar_stem, var.m_tr, dict(var.params), train, exp.probe,
                         data_options(exp.dataset, {**exp.data, **var.data}, f"experiments.{experiment}"),
                         exp.normalization, exp.action_norm)


# ---------------------------------------------------------------------------------------------------
# Generic dataclass builder with key-path errors


def _check_type(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        if len(args) == 2 and type(None) in args:  # Optional[X]: X's own error names the inner key
            return _check_type(value, next(a for a in args if a is not type(None)), where)
        for a in args:
            if a is type(None):
                continue
            try:
                return _check_type(value, a, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: expected {tp}, got {value!r}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item,) = typing.get_args(tp)[:1]
        return tuple(_check_type(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {tp}")


def _build(cls, raw: Any, where: str):
    if isinstance(raw, cls):
        return raw
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; valid: {sorted(fields)}")
    kwargs = {}
    for name, f in fields.items():
        if name in raw:
            kwargs[name] = _check_type(raw[name], hints[name], f"{where}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}.{name}: missing required key")
    return cls(**kwargs)


def _choice(value: str, valid, where: str) -> None:
    if value not in valid:
        raise ConfigError(f"{where}: {value!r} is not one of {sorted(valid)}")


def _positive(value: int | None, where: str, allow_zero: bool = False) -> None:
    if value is not None and (value < 0 or (value == 0 and not allow_zero)):
        raise ConfigError(f"{where}: must be {'>= 0' if allow_zero else 'positive'}, got {value}")


def _check_numbers(section: Any, where: str, allow_zero: frozenset[str] = frozenset(),
                   at_most_one: frozenset[str] = frozenset()) -> None:
    """Every number of a config section (ints, floats, tuples of them) must be finite and positive; those
    named in ``allow_zero`` may be 0, those in ``at_most_one`` must also be <= 1 (momenta, probabilities)."""
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        items = value if isinstance(value, (tuple, list)) else (value,)
        for i, v in enumerate(items):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            key = f"{where}.{f.name}" + (f"[{i}]" if items is value else "")
            if not math.isfinite(v):
                raise ConfigError(f"{key}: must be a finite number, got {v}")
            _positive(v, key, allow_zero=f.name in allow_zero)
            if f.name in at_most_one and v > 1:
                raise ConfigError(f"{key}: must be <= 1, got {v}")


# ---------------------------------------------------------------------------------------------------
# The pipeline config


def _validate_train(t: TrainConfig, where: str) -> None:
    # 0 epochs = the random-init reference; lr schedules may start or end at 0
    _check_numbers(t, where, allow_zero=frozenset({"epochs", "warmup_epochs", "num_workers", "weight_decay",
                                                   "warmup_start_lr", "final_lr"}))
    if t.optimizer is not None:
        _choice(t.optimizer, {"adam", "adamw"}, f"{where}.optimizer")
    if t.schedule is not None:
        _choice(t.schedule, {"warmup_cosine", "constant"}, f"{where}.schedule")
    _choice(t.after_warmup, {"cosine", "constant"}, f"{where}.after_warmup")


def merge_configs(base: dict, override: dict) -> dict:
    """Snakemake's ``--configfile`` semantics: ``override`` updates ``base`` recursively (a new dict)."""
    out = dict(base)
    for k, v in override.items():
        out[k] = merge_configs(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def data_options(dataset: str, raw: dict, where: str) -> dict:
    """The dataset's data options with its defaults filled in; an error names ``where`` and the key."""
    parse = DATASETS[dataset].parse_options
    if parse is None:
        if raw:
            raise ConfigError(f"{where}.data: dataset {dataset!r} takes no data options, got {sorted(raw)}")
        return {}
    try:
        return dataclasses.asdict(parse(raw, f"{where}.data"))
    except ValueError as err:
        raise ConfigError(str(err)) from None


def _validate_params(cls, raw: dict, where: str):
    """A method's ``params``: known keys (``parse_params``), each of its declared type, numbers in range."""
    from seqjepa_core.methods import parse_params

    try:
        parse_params(cls, raw, where)
    except (KeyError, TypeError, ValueError) as err:  # ValueError: a Params choice check
        raise ConfigError(str(err).strip('"')) from None
    hints = typing.get_type_hints(cls.Params)
    typed = {k: _check_type(v, hints[k], f"{where}.{k}") for k, v in raw.items()}
    params = cls.Params(**typed)
    # loss weights and dropout may be 0 (ablations); temperatures, sizes and dims may not
    floats = {f.name for f in dataclasses.fields(params) if hints[f.name] is float}
    _check_numbers(params, where, allow_zero=frozenset(floats - {"temperature"}),
                   at_most_one=frozenset({"ema_base", "dropout"}))


def _validate_variant(var: VariantConfig, where: str) -> None:
    if var.seeds is not None and not var.seeds:
        raise ConfigError(f"{where}.seeds: needs at least one seed (or leave it out for the experiment's)")
    r = var.released
    if r is None:
        return
    _choice(r.repo_type, {"model", "dataset"}, f"{where}.released.repo_type")
    for key in ("filename", "repo", "revision"):
        if not getattr(r, key).strip():
            raise ConfigError(f"{where}.released.{key}: must not be empty")
    if r.repo.count("/") != 1:
        raise ConfigError(f"{where}.released.repo: expected 'owner/name', got {r.repo!r}")
    if not re.fullmatch(r"[0-9a-f]{40}", r.revision):
        warnings.warn(f"{where}.released.revision: {r.revision!r} is not a commit; the download resolves it "
                      f"and records the commit it got (set a 40-hex commit to pin it)", stacklevel=2)


def _validate_resources(r: ResourceConfig, where: str) -> None:
    _positive(r.gpus, f"{where}.gpus", allow_zero=True)
    for key in ("cpus_per_gpu", "mem_mb", "runtime"):
        _positive(getattr(r, key), f"{where}.{key}")


def _experiment_resources(overrides: dict, resources: dict, where: str) -> dict:
    """An experiment's ``resources:`` overrides, each merged over the global entry of that job."""
    out = {}
    for job, r in overrides.items():
        _choice(job, resources, f"{where}.resources")
        jw = f"{where}.resources.{job}"
        out[job] = _build(ResourceConfig, {**dataclasses.asdict(resources[job]), **_check_type(r, dict, jw)}, jw)
        _validate_resources(out[job], jw)
    return out


def _present(mapping: dict) -> dict:
    """Entries of a config mapping; an override file removes an entry by setting it to null."""
    return {k: v for k, v in mapping.items() if v is not None}


def load_config(raw: dict) -> PipelineConfig:
    """Validate the merged Snakemake config and return the typed pipeline config."""
    from seqjepa_core.methods import METHODS, get_method_class

    if not isinstance(raw, dict):
        raise ConfigError("config: expected a mapping at the top level")
    top = {"results_dir", "device", "datasets", "experiments", "tables", "figures", "resources", "analyses",
           "transfer"}
    unknown = sorted(set(raw) - top)
    if unknown:
        raise ConfigError(f"config: unknown key(s) {unknown}; valid: {sorted(top)}")
    for key in ("results_dir", "datasets", "experiments"):
        if key not in raw:
            raise ConfigError(f"config.{key}: missing required key")
    device = _check_type(raw.get("device", "auto"), str, "device")
    _choice(device, {"auto", "cuda", "cpu"}, "device")

    datasets = {}
    for name, d in _present(_check_type(raw["datasets"], dict, "datasets")).items():
        where = f"datasets.{name}"
        _choice(name, DATASETS, "datasets")
        ds = _build(DatasetConfig, d, where)
        _choice(ds.source, {"download", "local", "synthetic"}, f"{where}.source")
        _check_numbers(ds.synthetic, f"{where}.synthetic",
                       allow_zero=frozenset({"seed", "unlabeled_images", "light", "tint", "paint"}),
                       at_most_one=frozenset({"rotation_scale", "light", "tint", "paint", "camera_scale"}))
        if len(ds.synthetic.rotation_scale) != 3:
            raise ConfigError(f"{where}.synthetic.rotation_scale: needs three numbers in (0, 1], "
                              f"got {list(ds.synthetic.rotation_scale)}")
        datasets[name] = ds

    resources = {name: _build(ResourceConfig, r, f"resources.{name}")
                 for name, r in _check_type(raw.get("resources") or {}, dict, "resources").items()}
    for name in ("pretrain", "probe"):
        resources.setdefault(name, ResourceConfig())
    for name, r in resources.items():
        _validate_resources(r, f"resources.{name}")

    experiments, removed = {}, set()
    for name, e in _present(_check_type(raw["experiments"], dict, "experiments")).items():
        where = f"experiments.{name}"
        if not isinstance(e, dict):
            raise ConfigError(f"{where}: expected a mapping, got {e!r}")
        e = dict(e)
        runs_raw = _check_type(e.get("runs"), dict, f"{where}.runs")
        exp = _build(ExperimentConfig, e, where)
        _choice(exp.dataset, [n for n, d in DATASETS.items() if not d.evaluation_only], f"{where}.dataset")
        if exp.dataset not in datasets:
            raise ConfigError(f"{where}.dataset: {exp.dataset!r} has no entry under datasets "
                              f"(configured: {sorted(datasets)})")
        _choice(exp.actions, DATASETS[exp.dataset].action_kinds, f"{where}.actions")
        _positive(exp.img_size, f"{where}.img_size")
        _choice(exp.normalization, {"paper", "official"}, f"{where}.normalization")
        _choice(exp.action_norm, {"sequence_l2", "raw"}, f"{where}.action_norm")
        _positive(exp.encoder_width, f"{where}.encoder_width")
        if not exp.seeds:
            raise ConfigError(f"{where}.seeds: needs at least one seed")
        _check_numbers(exp, where, allow_zero=frozenset({"seeds"}))
        _validate_train(exp.train, f"{where}.train")
        exp = dataclasses.replace(exp, resources=_experiment_resources(exp.resources, resources, where))
        if not exp.probe.m_val:
            raise ConfigError(f"{where}.probe.m_val: needs at least one sequence length")
        _check_numbers(exp.probe, f"{where}.probe")  # m_val entries, epochs, test_draws, lr, ...
        data_options(exp.dataset, exp.data, where)
        runs = {}
        for method, variants in runs_raw.items():
            _choice(method, METHODS, f"{where}.runs")
            cls = get_method_class(method)
            variants = _check_type(variants, dict, f"{where}.runs.{method}")
            runs[method] = {}
            for vname, v in variants.items():
                if v is None:  # `variant: null` in an override file removes it, and the table rows on it
                    removed.add((name, method, vname))
                    continue
                vw = f"{where}.runs.{method}.{vname}"
                var = _build(VariantConfig, v, vw)
                _validate_variant(var, vw)
                _check_numbers(var, vw, allow_zero=frozenset({"epochs", "seeds"}))
                _validate_params(cls, var.params, f"{vw}.params")
                train = _build(TrainConfig, {**dataclasses.asdict(exp.train), **var.train}, f"{vw}.train")
                _validate_train(train, f"{vw}.train")
                data_options(exp.dataset, {**exp.data, **var.data}, vw)
                runs[method][vname] = var
            if not runs[method]:
                del runs[method]
        experiments[name] = dataclasses.replace(exp, runs=runs)

    tables = {}
    for name, t in _present(_check_type(raw.get("tables") or {}, dict, "tables")).items():
        where = f"tables.{name}"
        table = _build(TableConfig, t, where)
        _choice(table.experiment, experiments, f"{where}.experiment")
        table = dataclasses.replace(table, rows=tuple(
            r for r in table.rows if (r.experiment or table.experiment, r.method, r.variant) not in removed))
        for i, row in enumerate(table.rows):
            rw = f"{where}.rows[{i}]"
            if row.experiment is not None:
                _choice(row.experiment, experiments, f"{rw}.experiment")
            exp = experiments[row.experiment or table.experiment]
            _choice(row.method, exp.runs, f"{rw}.method")
            _choice(row.variant, exp.runs[row.method], f"{rw}.variant")
            if get_method_class(row.method).aggregates_sequences:
                if row.m_val is None:
                    raise ConfigError(f"{rw}.m_val: required for sequence method {row.method!r}")
                _choice(row.m_val, exp.probe.m_val, f"{rw}.m_val")
        tables[name] = table

    figures = {}
    for name, f in _present(_check_type(raw.get("figures") or {}, dict, "figures")).items():
        fw = f"figures.{name}"
        fig = _build(FigureConfig, f, fw)
        _choice(fig.kind, {"tradeoff", "heatmap", "table_heatmap", "path_integration", "fixations"}, f"{fw}.kind")
        if fig.kind in ("tradeoff", "table_heatmap"):  # table_heatmap: Figs. 10-11, one panel per table
            _choice(fig.table, tables, f"{fw}.table")
            for i, panel in enumerate(fig.panels):
                _choice(panel, tables, f"{fw}.panels[{i}]")
        else:
            _choice(fig.experiment, experiments, f"{fw}.experiment")
            runs = experiments[fig.experiment].runs
            if fig.kind != "fixations":
                _choice(fig.method, runs, f"{fw}.method")
                if not fig.variants:
                    raise ConfigError(f"{fw}.variants: needs at least one variant")
                for i, v in enumerate(fig.variants):
                    _choice(v, runs[fig.method], f"{fw}.variants[{i}]")
        figures[name] = fig

    analyses = {name: _validate_analysis(_build(AnalysisConfig, a, f"analyses.{name}"), f"analyses.{name}",
                                         datasets, experiments, removed, tables)
                for name, a in _present(_check_type(raw.get("analyses") or {}, dict, "analyses")).items()}
    transfer = {name: _validate_transfer(_build(TransferConfig, t, f"transfer.{name}"), f"transfer.{name}",
                                         experiments, tables, analyses)
                for name, t in _present(_check_type(raw.get("transfer") or {}, dict, "transfer")).items()}
    saliency_downloads(transfer)
    return PipelineConfig(_check_type(raw["results_dir"], str, "results_dir"), device, datasets,
                          experiments, tables, figures, resources, analyses, transfer)


def saliency_downloads(transfer: dict[str, TransferConfig]) -> dict[str, str]:
    """One download per saliency root: root -> the first transfer entry downloading into it. Entries sharing
    a root share its download, so they must fetch the same files (else a ConfigError naming both)."""
    first: dict[str, str] = {}
    for name, t in transfer.items():
        if t.saliency_source != "download":
            continue
        other = transfer[first.setdefault(t.saliency_root, name)]
        fetch, other_fetch = ((x.saliency_repo, x.saliency_revision, x.saliency_patterns) for x in (t, other))
        if fetch != other_fetch:
            raise ConfigError(f"transfer.{name}.saliency_root: {t.saliency_root} is also where "
                              f"transfer.{first[t.saliency_root]} downloads {other_fetch} (repo, revision, "
                              f"patterns), not {fetch}; give each download its own saliency_root")
    return first


def _validate_analysis(a: AnalysisConfig, where: str, datasets: dict, experiments: dict, removed: set,
                       tables: dict) -> AnalysisConfig:
    from seqjepa_core.methods import get_method_class

    _choice(a.kind, ANALYSIS_KINDS, f"{where}.kind")
    _choice(a.experiment, experiments, f"{where}.experiment")
    name = where.split(".", 1)[1]
    if name in tables:
        raise ConfigError(f"{where}: {name!r} is also a table; both would write tables/{name}.csv")
    exp = experiments[a.experiment]
    a = dataclasses.replace(a, rows=tuple(r for r in a.rows if (a.experiment, r.method, r.variant) not in removed))
    for i, row in enumerate(a.rows):
        rw = f"{where}.rows[{i}]"
        _choice(row.method, exp.runs, f"{rw}.method")
        _choice(row.variant, exp.runs[row.method], f"{rw}.variant")
        cls = get_method_class(row.method)
        if a.kind == "retrieval" and not cls.predicts_embeddings:
            raise ConfigError(f"{rw}.method: {row.method!r} has no action-conditioned predictor to retrieve with")
        if cls.aggregates_sequences and a.kind in ("ood", "retrieval") and row.m_val is None:
            raise ConfigError(f"{rw}.m_val: required for sequence method {row.method!r}")
        _positive(row.m_val, f"{rw}.m_val")
    for m in a.m_val:
        _positive(m, f"{where}.m_val")
    _positive(a.probe_epochs, f"{where}.probe_epochs")
    if a.kind in ("path_integration", "seq_length") and not a.m_val:
        raise ConfigError(f"{where}.m_val: the {a.kind} analysis needs its M_val axis")
    if a.kind == "ood":
        # scored by heads fitted on the experiment's own data: a dataset without a probe-fitting split
        _choice(a.dataset or "", [n for n, d in DATASETS.items() if d.evaluation_only and not d.train_split],
                f"{where}.dataset")
        if a.dataset not in datasets:
            raise ConfigError(f"{where}.dataset: {a.dataset!r} has no entry under datasets "
                              f"(configured: {sorted(datasets)})")
    return a


def _validate_transfer(t: TransferConfig, where: str, experiments: dict, tables: dict,
                       analyses: dict) -> TransferConfig:
    from seqjepa_core.methods import get_method_class

    name = where.split(".", 1)[1]
    if name in tables or name in analyses:
        raise ConfigError(f"{where}: {name!r} is also a table or analysis; both would write tables/{name}.csv")
    # probes are fitted on the transfer dataset itself: an evaluation-only dataset with a probe-fitting split
    _choice(t.dataset, [n for n, d in DATASETS.items() if d.evaluation_only and d.train_split], f"{where}.dataset")
    _choice(t.experiment, experiments, f"{where}.experiment")
    exp = experiments[t.experiment]
    if DATASETS[exp.dataset].parse_options is not DATASETS[t.dataset].parse_options:
        raise ConfigError(f"{where}.experiment: {t.experiment!r} is trained on {exp.dataset!r}, whose actions are "
                          f"not {t.dataset!r}'s saccades")
    _choice(t.method, exp.runs, f"{where}.method")
    _choice(t.variant, exp.runs[t.method], f"{where}.variant")
    if not get_method_class(t.method).aggregates_sequences:
        raise ConfigError(f"{where}.method: {t.method!r} has no z_AGG to probe")
    var = exp.runs[t.method][t.variant]
    seeds = var.seeds if var.seeds is not None else exp.seeds
    _choice(t.seed, seeds, f"{where}.seed")
    _choice(t.saliency_source, {"download", "local"}, f"{where}.saliency_source")
    _choice(t.missing_saliency, {"error", "skip"}, f"{where}.missing_saliency")
    if not t.image_root or not t.saliency_root:
        raise ConfigError(f"{where}: image_root and saliency_root are required")
    if "<stem>" not in t.saliency_name or re.search(r"[{}]|<(?!(wnid|stem)>)", t.saliency_name):
        raise ConfigError(f"{where}.saliency_name: a path template with <stem> (and optionally <wnid>), no other "
                          f"<...> and no braces, got {t.saliency_name!r}")
    if not t.patch_sizes or not t.m_val:
        raise ConfigError(f"{where}: patch_sizes and m_val need at least one entry each")
    _check_numbers(t, where, allow_zero=frozenset({"seed", "num_workers"}))
    _check_numbers(t.probe, f"{where}.probe")
    _validate_resources(t.resources, f"{where}.resources")
    for p in t.patch_sizes:
        if p > t.image_size:
            raise ConfigError(f"{where}.patch_sizes: {p} exceeds image_size {t.image_size}")
        if data_options(t.dataset, t.data_options(p), where)["views"] != "patches":
            raise ConfigError(f"{where}.data.views: the transfer probes saccade patches, got {t.data['views']!r}")
    return dataclasses.replace(t, probe=dataclasses.replace(t.probe, m_val=t.m_val))

