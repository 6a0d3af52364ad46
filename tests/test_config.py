import copy
import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from seqjepa_core.config import ConfigError, ProbeConfig, RunConfig, TrainConfig, load_config

ROOT = Path(__file__).resolve().parents[1]


def merged(base: dict, override: dict) -> dict:
    """Snakemake's --configfile semantics: recursive update."""
    out = copy.deepcopy(base)
    for k, v in override.items():
        out[k] = merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@pytest.fixture
def paper():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def test_paper_and_demo_configs_validate(paper):
    cfg = load_config(paper)
    assert len(cfg.experiments["3diebench"].seeds) == 3
    run = cfg.run_config("3diebench", "seqjepa", "mtr3", 1)
    assert run.train.epochs == 1000 and run.train.batch_size == 512 and run.m_tr == 3
    assert RunConfig.from_json(run.to_json()) == run
    demo = load_config(merged(paper, yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())))
    assert demo.results_dir == "results/demo"
    assert "mtr3-adim16" not in demo.experiments["3diebench"].runs["seqjepa"]  # null removes a variant


def test_augmentation_experiments_follow_the_paper(paper):
    cfg = load_config(paper)
    run = cfg.run_config("cifar100-crop", "seqjepa", "mtr2", 0)
    assert (run.dataset, run.actions, run.img_size, run.cifar_stem, run.train.epochs) == ("cifar100", "crop", 32, True, 2000)
    assert (run.normalization, run.action_norm) == ("paper", "sequence_l2")
    tin = cfg.run_config("tinyimagenet", "seqjepa", "mtr1", 0)
    assert (tin.img_size, tin.cifar_stem, tin.probe.m_val) == (64, False, tuple(range(1, 9)))
    assert cfg.seeds("cifar100", "seqjepa", "mtr4") == (0,) and cfg.seeds("cifar100", "seqjepa", "mtr2") == (0, 1, 2)
    keys = cfg.run_keys("tinyimagenet-blur")
    assert ("tinyimagenet-blur", "seqjepa", "mtr2", 0) in keys and ("tinyimagenet-blur", "seqjepa", "mtr2", 1) not in keys


@pytest.mark.parametrize("mutate,message", [
    (lambda c: c["experiments"]["3diebench"]["runs"].update(simclrr={"default": {}}),
     r"experiments.3diebench.runs: 'simclrr' is not one of \[.*'seqjepa'"),
    (lambda c: c["experiments"]["3diebench"].update(dataset="imagenet"),
     r"experiments.3diebench.dataset: 'imagenet' is not one of \['3diebench'"),
    (lambda c: c["experiments"]["3diebench"]["runs"]["seqjepa"]["mtr1"].update(m_tr=0),
     r"experiments.3diebench.runs.seqjepa.mtr1.m_tr: must be positive"),
    (lambda c: c["experiments"]["3diebench"]["runs"]["seqjepa"]["mtr1"].update(m_tr=-2),
     r"m_tr: must be positive"),
    (lambda c: c["experiments"]["3diebench"]["train"].update(batchsize=3),
     r"experiments.3diebench.train: unknown key\(s\) \['batchsize'\]; valid: \[.*'batch_size'"),
    (lambda c: c["experiments"]["3diebench"].pop("img_size"),
     r"experiments.3diebench.img_size: missing required key"),
    (lambda c: c.pop("experiments"), r"config.experiments: missing required key"),
    (lambda c: c["experiments"]["3diebench"]["runs"]["seqjepa"]["mtr1"].update(params={"depth": 2}),
     r"experiments.3diebench.runs.seqjepa.mtr1.params: unknown parameter\(s\) \['depth'\].*valid"),
    (lambda c: c["experiments"]["3diebench"].update(actions="scale"),
     r"experiments.3diebench.actions: 'scale' is not one of \['rotation', 'rotcolor'\]"),
    (lambda c: c["experiments"]["3diebench"]["train"].update(epochs="many"),
     r"experiments.3diebench.train.epochs: expected an integer"),
    (lambda c: c["experiments"]["3diebench"]["probe"].update(m_val=[0]),
     r"experiments.3diebench.probe.m_val\[0\]: must be positive"),
    (lambda c: c["experiments"]["3diebench"]["probe"].update(test_draws=0),
     r"experiments.3diebench.probe.test_draws: must be positive"),
    (lambda c: c["experiments"]["3diebench"]["probe"].update(samples_per_object=4),
     r"experiments.3diebench.probe: unknown key\(s\) \['samples_per_object'\]"),
    (lambda c: c["datasets"]["3diebench"].update(synthetic={"rotation_scale": [0.5, 1.5, 1]}),
     r"datasets.3diebench.synthetic.rotation_scale\[1\]: must be <= 1"),
    (lambda c: c["datasets"]["3diebench"].update(synthetic={"paint": 1.5}),
     r"datasets.3diebench.synthetic.paint: must be <= 1"),
    (lambda c: c["datasets"]["3diebench"].update(synthetic={"camera_scale": 0}),
     r"datasets.3diebench.synthetic.camera_scale: must be"),
    (lambda c: c["datasets"]["3diebench"].update(synthetic={"per_object_lighting": "yes"}),
     r"datasets.3diebench.synthetic.per_object_lighting"),
    (lambda c: c["tables"]["3diebench"]["rows"][8].update(m_val=7),
     r"tables.3diebench.rows\[8\].m_val: 7 is not one of \[1, 3, 5\]"),
    (lambda c: c["datasets"]["3diebench"].update(source="ftp"),
     r"datasets.3diebench.source: 'ftp' is not one of"),
    (lambda c: c.update(device="tpu"), r"device: 'tpu' is not one of"),
    (lambda c: c["experiments"]["cifar100"].update(actions="rotation"),
     r"experiments.cifar100.actions: 'rotation' is not one of \['blur', 'crop', 'crop\+jitter\+blur', 'jitter', 'none'\]"),
    (lambda c: c["experiments"]["cifar100"].update(normalization="imagenet"),
     r"experiments.cifar100.normalization: 'imagenet' is not one of \['official', 'paper'\]"),
    (lambda c: c["experiments"]["tinyimagenet"].update(action_norm="l1"),
     r"experiments.tinyimagenet.action_norm: 'l1' is not one of \['raw', 'sequence_l2'\]"),
    (lambda c: c["tables"]["cifar100"]["rows"][4].update(experiment="cifar100-scale"),
     r"tables.cifar100.rows\[4\].experiment: 'cifar100-scale' is not one of"),
    (lambda c: c["experiments"]["cifar100"]["runs"]["seqjepa"]["mtr4"].update(seeds=[]),
     r"experiments.cifar100.runs.seqjepa.mtr4.seeds: needs at least one seed"),
    (lambda c: c["figures"]["cifar100_heatmap"].update(panels=["nope"]),
     r"figures.cifar100_heatmap.panels\[0\]: 'nope' is not one of"),
])
def test_bad_config_names_the_key(paper, mutate, message):
    mutate(paper)
    with pytest.raises(ConfigError, match=message):
        load_config(paper)


@pytest.mark.parametrize("mutate,message", [
    (lambda c: c["analyses"]["3diebench_retrieval"]["rows"].append({"label": "SimCLR", "method": "simclr"}),
     r"analyses.3diebench_retrieval.rows\[4\].method: 'simclr' has no action-conditioned predictor"),
    (lambda c: c["analyses"]["3diebench_retrieval"].update(kind="retrieve"),
     r"analyses.3diebench_retrieval.kind: 'retrieve' is not one of"),
    (lambda c: c["analyses"].update(x={"kind": "ood", "experiment": "3diebench", "dataset": "3diebench", "rows": []}),
     r"analyses.x.dataset: '3diebench' is not one of \['3diebench_ood'\]"),
    (lambda c: c["analyses"].update(x={"kind": "path_integration", "experiment": "3diebench", "rows": []}),
     r"analyses.x.m_val: the path_integration analysis needs its M_val axis"),
    (lambda c: c["analyses"].update({"3diebench": {"kind": "retrieval", "experiment": "3diebench", "rows": []}}),
     r"analyses.3diebench: '3diebench' is also a table"),
    (lambda c: c["experiments"]["3diebench"].update(dataset="3diebench_ood"),
     r"experiments.3diebench.dataset: '3diebench_ood' is not one of \['3diebench', 'cifar100', 'stl10', 'tinyimagenet'\]"),  # evaluation only
])
def test_bad_analysis_names_the_key(paper, mutate, message):
    mutate(paper)
    with pytest.raises(ConfigError, match=message):
        load_config(paper)


def transfer(c):
    return c["transfer"]["imagenet_transfer"]


@pytest.mark.parametrize("mutate,message", [
    (lambda c: transfer(c).update(variant="mtr9"), r"transfer.imagenet_transfer.variant: 'mtr9' is not one of"),
    (lambda c: transfer(c).update(method="simclr", variant="default"),
     r"transfer.imagenet_transfer.method: 'simclr' has no z_AGG to probe"),
    (lambda c: transfer(c).update(experiment="3diebench", variant="mtr3"),
     r"transfer.imagenet_transfer.experiment: '3diebench' is trained on '3diebench', whose actions are not"),
    (lambda c: transfer(c).update(seed=1, variant="mtr1"), r"transfer.imagenet_transfer.seed: 1 is not one of \[0\]"),
    (lambda c: transfer(c).update(dataset="3diebench_ood"), r"transfer.imagenet_transfer.dataset: .* not one of \['imagenet'\]"),
    (lambda c: transfer(c).update(patch_sizes=[32, 256]), r"transfer.imagenet_transfer.patch_sizes: 256 exceeds image_size"),
    (lambda c: transfer(c).update(patch_sizes=[]), r"transfer.imagenet_transfer: patch_sizes and m_val need"),
    (lambda c: transfer(c).update(saliency_name="<class>/<stem>.npy"), r"transfer.imagenet_transfer.saliency_name: a path template"),
    (lambda c: transfer(c).update(saliency_name="{wnid}/{stem}_sal.npy"),  # braces: Snakemake expands them in params
     r"transfer.imagenet_transfer.saliency_name: a path template"),
    (lambda c: transfer(c).update(saliency_source="hub"), r"transfer.imagenet_transfer.saliency_source: 'hub'"),
    (lambda c: transfer(c).update(missing_saliency="ignore"), r"transfer.imagenet_transfer.missing_saliency: 'ignore'"),
    (lambda c: transfer(c)["data"].update(ior="hexagon"), r"transfer.imagenet_transfer.data.ior: 'hexagon'"),
    (lambda c: transfer(c)["data"].update(views="augmentations"), r"transfer.imagenet_transfer.data.views: the transfer"),
    (lambda c: transfer(c)["probe"].update(epochs=0), r"transfer.imagenet_transfer.probe.epochs: must be positive"),
    (lambda c: transfer(c)["resources"].update(gpus=-1), r"transfer.imagenet_transfer.resources.gpus"),
    (lambda c: transfer(c).update(image_size=0), r"transfer.imagenet_transfer.image_size: must be positive"),
    (lambda c: transfer(c).update(root="x"), r"transfer.imagenet_transfer: unknown key\(s\) \['root'\]"),
    (lambda c: c["transfer"].update(stl10_pls=dict(transfer(c))), r"transfer.stl10_pls: 'stl10_pls' is also a table"),
    (lambda c: c["transfer"].update(rev2={**transfer(c), "saliency_revision": "v2"}),   # one root, two downloads
     r"transfer.rev2.saliency_root: data/imagenet-saliency is also where transfer.imagenet_transfer downloads"),
])
def test_bad_transfer_names_the_key(paper, mutate, message):
    mutate(paper)
    with pytest.raises(ConfigError, match=message):
        load_config(paper)


def variant(c, method="seqjepa", name="mtr1"):
    return c["experiments"]["3diebench"]["runs"][method][name]


def train_of(c):
    return c["experiments"]["3diebench"]["train"]


# Every numeric and enumerated key is checked, with its type (a boolean is not a number).
@pytest.mark.parametrize("mutate,message", [
    (lambda c: train_of(c).update(epochs=True), r"experiments.3diebench.train.epochs: expected an integer, got True"),
    (lambda c: train_of(c).update(lr=True), r"experiments.3diebench.train.lr: expected a number, got True"),
    (lambda c: train_of(c).update(batch_size=0), r"experiments.3diebench.train.batch_size: must be positive, got 0"),
    (lambda c: train_of(c).update(batch_size=-4), r"train.batch_size: must be positive"),
    (lambda c: train_of(c).update(log_every=0), r"train.log_every: must be positive"),
    (lambda c: train_of(c).update(checkpoint_every=0), r"train.checkpoint_every: must be positive"),
    (lambda c: train_of(c).update(warmup_epochs=-1), r"train.warmup_epochs: must be >= 0"),
    (lambda c: train_of(c).update(num_workers=-1), r"train.num_workers: must be >= 0"),
    (lambda c: train_of(c).update(lr=0), r"train.lr: must be positive"),
    (lambda c: train_of(c).update(lr=float("nan")), r"train.lr: must be a finite number"),
    (lambda c: train_of(c).update(weight_decay=-1e-3), r"train.weight_decay: must be >= 0"),
    (lambda c: train_of(c).update(final_lr=-1.0), r"train.final_lr: must be >= 0"),
    (lambda c: train_of(c).update(optimizer="sgd"), r"train.optimizer: 'sgd' is not one of \['adam', 'adamw'\]"),
    (lambda c: train_of(c).update(schedule="step"), r"train.schedule: 'step' is not one of"),
    (lambda c: train_of(c).update(after_warmup="linear"), r"train.after_warmup: 'linear' is not one of"),
    (lambda c: train_of(c).update(compile=1), r"train.compile: expected true/false, got 1"),
    (lambda c: c["experiments"]["3diebench"]["probe"].update(batch_size=0), r"probe.batch_size: must be positive"),
    (lambda c: c["experiments"]["3diebench"]["probe"].update(lr=-1.0), r"probe.lr: must be positive"),
    (lambda c: c["experiments"]["3diebench"]["probe"].update(epochs=True), r"probe.epochs: expected an integer"),
    (lambda c: c["experiments"]["3diebench"].update(img_size=True), r"3diebench.img_size: expected an integer"),
    (lambda c: c["experiments"]["3diebench"].update(img_size=0), r"3diebench.img_size: must be positive"),
    (lambda c: c["experiments"]["3diebench"].update(seeds=[0, -1]), r"3diebench.seeds\[1\]: must be >= 0"),
    (lambda c: c["experiments"]["3diebench"].update(seeds=[]), r"3diebench.seeds: needs at least one seed"),
    (lambda c: variant(c).update(m_tr=True), r"runs.seqjepa.mtr1.m_tr: expected an integer, got True"),
    (lambda c: variant(c).update(epochs=-1), r"runs.seqjepa.mtr1.epochs: must be >= 0"),
    (lambda c: variant(c).update(train={"batch_size": 0}), r"runs.seqjepa.mtr1.train.batch_size: must be positive"),
    (lambda c: variant(c).update(train={"optimizer": "sgd"}), r"runs.seqjepa.mtr1.train.optimizer: 'sgd' is not one of"),
    (lambda c: variant(c).update(train={"epochs": True}), r"runs.seqjepa.mtr1.train.epochs: expected an integer"),
    (lambda c: variant(c).update(params={"condition_predictor": 1}),
     r"runs.seqjepa.mtr1.params.condition_predictor: expected true/false, got 1"),
    (lambda c: variant(c).update(params={"ema_base": 1.5}), r"runs.seqjepa.mtr1.params.ema_base: must be <= 1"),
    (lambda c: variant(c).update(params={"num_heads": 0}), r"runs.seqjepa.mtr1.params.num_heads: must be positive"),
    (lambda c: variant(c).update(params={"action_embed_dim": True}), r"params.action_embed_dim: expected an integer"),
    (lambda c: variant(c, "simclr", "default").update(params={"temperature": 0}),
     r"runs.simclr.default.params.temperature: must be positive"),
    (lambda c: variant(c, "simclr", "default").update(params={"temperature": "hot"}),
     r"runs.simclr.default.params.temperature: expected a number"),
    (lambda c: variant(c, "simclr", "default").update(params={"projector_dims": [64, 0]}),
     r"runs.simclr.default.params.projector_dims\[1\]: must be positive"),
    (lambda c: variant(c, "vicreg", "default").update(params={"lam_cov": -1.0}),
     r"runs.vicreg.default.params.lam_cov: must be >= 0"),
    (lambda c: c["resources"]["pretrain"].update(mem_mb=0), r"resources.pretrain.mem_mb: must be positive"),
    (lambda c: c["resources"]["pretrain"].update(gpus=-1), r"resources.pretrain.gpus: must be >= 0"),
    (lambda c: c["datasets"]["3diebench"].update(synthetic={"classes": 0}),
     r"datasets.3diebench.synthetic.classes: must be positive"),
    (lambda c: c["datasets"]["stl10"].update(synthetic={"discs_per_colour": 0}),
     r"datasets.stl10.synthetic.discs_per_colour: must be positive"),
    (lambda c: c["datasets"]["stl10"].update(synthetic={"tint": 1.5}), r"datasets.stl10.synthetic.tint: must be <= 1"),
    (lambda c: c["datasets"]["stl10"].update(synthetic={"light": -0.1}), r"datasets.stl10.synthetic.light"),
    (lambda c: c["tables"]["3diebench"]["rows"][0].update(method="simclrr"), r"tables.3diebench.rows\[0\].method"),
    (lambda c: c["figures"]["3diebench_tradeoff"].update(kind="bars"), r"figures.3diebench_tradeoff.kind: 'bars'"),
])
def test_every_number_and_choice_is_validated(paper, mutate, message):
    mutate(paper)
    with pytest.raises(ConfigError, match=message):
        load_config(paper)


HIGH = "3diebench-high-compute"


@pytest.mark.parametrize("mutate,message", [
    (lambda c: c["experiments"]["3diebench"]["runs"]["simclr"].update(tproj={"params": {"projector": "conv"}}),
     r"experiments.3diebench.runs.simclr.tproj.params.projector: 'conv' is not one of \['mlp', 'transformer'\]"),
    (lambda c: c["experiments"][HIGH]["resources"]["pretrain"].update(gpus=-1),
     rf"experiments.{HIGH}.resources.pretrain.gpus: must be >= 0, got -1"),
    (lambda c: c["experiments"][HIGH]["resources"].update(train={"gpus": 2}),
     rf"experiments.{HIGH}.resources: 'train' is not one of \['pretrain', 'probe'\]"),
    (lambda c: c["experiments"][HIGH]["resources"]["pretrain"].update(gpu=4),
     rf"experiments.{HIGH}.resources.pretrain: unknown key\(s\) \['gpu'\]"),
    (lambda c: c["resources"]["probe"].update(mem_mb=0), r"resources.probe.mem_mb: must be positive"),
    (lambda c: c["experiments"]["3diebench"]["runs"]["seqjepa"]["released-mtr3"]["released"].update(repo="seq-JEPA"),
     r"runs.seqjepa.released-mtr3.released.repo: expected 'owner/name', got 'seq-JEPA'"),
    (lambda c: c["experiments"]["3diebench"]["runs"]["seqjepa"]["released-mtr3"]["released"].update(filename=" "),
     r"runs.seqjepa.released-mtr3.released.filename: must not be empty"),
    (lambda c: c["experiments"]["3diebench"]["runs"]["seqjepa"]["released-mtr3"]["released"].pop("filename"),
     r"runs.seqjepa.released-mtr3.released.filename: missing required key"),
    (lambda c: c["experiments"]["3diebench"]["runs"]["seqjepa"]["released-mtr3"].update(seeds=[]),
     r"runs.seqjepa.released-mtr3.seeds: needs at least one seed"),
    (lambda c: c["tables"]["3diebench_high_compute"].update(in_all="no"),
     r"tables.3diebench_high_compute.in_all: expected true/false"),
])
def test_bad_released_projector_and_resource_config_names_the_key(paper, mutate, message):
    mutate(paper)
    with pytest.raises(ConfigError, match=message):
        load_config(paper)


def test_transfer_follows_the_paper_and_scales_inhibition_of_return(paper):
    t = load_config(paper).transfer["imagenet_transfer"]
    assert (t.experiment, t.method, t.variant, t.image_size, t.patch_sizes) == ("stl10", "seqjepa", "mtr4", 224, (32, 84))
    assert t.probe.m_val == t.m_val == tuple(range(1, 9)) and t.probe.epochs == 300 and t.probe.batch_size == 256
    assert t.data_options(32)["ior_radius"] == 16 and t.data_options(84)["ior_radius"] == 42
    assert t.data_options(84)["patch_size"] == 84 and t.saliency_repo == "Hafez/ImageNet1k-Saliency-Maps"
    demo = load_config(merged(paper, yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())))
    assert demo.transfer == {}                                  # needs the user's ImageNet: not in the demo


def test_probe_config_from_the_json_a_rule_passes(paper):
    probe = load_config(paper).transfer["imagenet_transfer"].probe
    assert ProbeConfig.from_json(json.dumps(dataclasses.asdict(probe))) == probe   # lists back to tuples
    with pytest.raises(ConfigError, match=r"probe.epochs: expected an integer, got 'x'"):
        ProbeConfig.from_json('{"epochs": "x"}')
    with pytest.raises(ConfigError, match=r"probe: unknown key\(s\) \['m_tr'\]"):
        ProbeConfig.from_json({"m_tr": 1})


def test_zero_where_zero_means_something(paper):
    """0 epochs (random-init reference), 0 GPUs (CPU jobs), 0 loss weights and dropout (ablations) are valid."""
    variant(paper).update(epochs=0, params={"dropout": 0.0})
    variant(paper, "vicreg", "default").update(params={"lam_cov": 0.0})
    variant(paper, "simclr", "default").update(train={"epochs": 0, "weight_decay": 0.0})
    train_of(paper).update(warmup_epochs=0, num_workers=0, warmup_start_lr=0.0, final_lr=0.0)
    paper["resources"]["probe"].update(gpus=0)
    cfg = load_config(paper)
    assert cfg.run_config("3diebench", "seqjepa", "mtr1", 0).train.epochs == 0
    assert cfg.run_config("3diebench", "simclr", "default", 0).train.epochs == 0
    assert cfg.datasets["3diebench"].root == paper["datasets"]["3diebench"]["root"]


def test_every_variant_override_reaches_the_resolved_run(paper):
    paper["experiments"]["3diebench"]["runs"]["seqjepa"]["custom"] = {
        "m_tr": 2, "params": {"action_embed_dim": 16, "condition_predictor": False},
        "train": {"lr": 0.5, "batch_size": 7, "after_warmup": "constant", "optimizer": "adam"}}
    paper["experiments"]["3diebench"]["runs"]["seqjepa"]["short"] = {"m_tr": 3, "epochs": 0, "train": {"epochs": 9}}
    cfg = load_config(paper)
    run = cfg.run_config("3diebench", "seqjepa", "custom", 2)
    assert (run.m_tr, run.seed, run.variant) == (2, 2, "custom")
    assert run.params == {"action_embed_dim": 16, "condition_predictor": False}
    base = cfg.experiments["3diebench"].train
    assert run.train == dataclasses.replace(base, lr=0.5, batch_size=7, after_warmup="constant", optimizer="adam")
    short = cfg.run_config("3diebench", "seqjepa", "short", 0)
    assert short.train.epochs == 0 and short.m_tr == 3           # the epochs shortcut wins over train.epochs
    assert cfg.run_config("3diebench", "seqjepa", "mtr3-random", 0).train.epochs == 0  # the reference row
    assert RunConfig.from_json(run.to_json()) == run


def changed(value):
    """A different value of the same type."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, tuple):
        return value + value[:1]
    if isinstance(value, dict):
        return {**value, "extra": 1}
    if value is None:
        return "set"
    raise TypeError(value)


def test_fingerprint_changes_with_every_field_that_changes_training():
    run = RunConfig("3diebench", "seqjepa", "mtr3", 0, "3diebench", "rotation", 128, 64, False, 3, {},
                    TrainConfig(), ProbeConfig())
    base = run.fingerprint()
    for f in dataclasses.fields(TrainConfig):
        other = dataclasses.replace(run, train=dataclasses.replace(run.train, **{f.name: changed(getattr(run.train, f.name))}))
        if f.name in ("num_workers", "log_every"):   # how fast, not what: a resume may change them
            assert other.fingerprint() == base, f.name
        else:
            assert other.fingerprint() != base, f.name
    for f in dataclasses.fields(RunConfig):
        if f.name in ("train", "probe"):
            continue
        other = dataclasses.replace(run, **{f.name: changed(getattr(run, f.name))})
        assert other.fingerprint() != base, f.name
    # probing happens after training: the probe protocol never invalidates a training state
    assert dataclasses.replace(run, probe=ProbeConfig(epochs=7)).fingerprint() == base


def test_experiment_resources_and_variant_seeds_override_the_global_ones(paper):
    paper["experiments"]["3diebench"]["resources"] = {"pretrain": {"gpus": 4, "runtime": 60}}
    variant(paper).update(seeds=[7])
    cfg = load_config(paper)
    pre = cfg.job_resources("3diebench", "pretrain")
    assert (pre.gpus, pre.runtime) == (4, 60)
    assert pre.mem_mb == cfg.resources["pretrain"].mem_mb                     # the rest from resources.pretrain
    assert cfg.job_resources("3diebench", "probe") == cfg.resources["probe"]
    assert cfg.seeds("3diebench", "seqjepa", "mtr1") == (7,)
    assert cfg.seeds("3diebench", "seqjepa", "mtr3") == cfg.experiments["3diebench"].seeds == (0, 1, 2)


@pytest.mark.parametrize("key", ["tables", "figures", "resources", "datasets", "experiments"])
def test_a_section_that_is_not_a_mapping_is_named(paper, key):
    paper[key] = [1]
    with pytest.raises(ConfigError, match=rf"^{key}: expected a mapping"):
        load_config(paper)


def test_experiment_resources_released_runs_and_tables_outside_all(paper):
    with pytest.warns(UserWarning, match=r"released-mtr3.released.revision: 'main' is not a commit"):
        cfg = load_config(paper)
    high = cfg.job_resources(HIGH, "pretrain")
    assert high.gpus == 4 and high.mem_mb == cfg.resources["pretrain"].mem_mb  # only gpus overridden
    assert cfg.job_resources(HIGH, "probe") == cfg.resources["probe"] == cfg.job_resources("3diebench", "probe")
    run = cfg.run_config(HIGH, "seqjepa", "mtr3", 0)
    assert (run.img_size, run.train.epochs, run.train.batch_size) == (256, 2000, 1024)
    assert not cfg.tables["3diebench_high_compute"].in_all and cfg.tables["3diebench"].in_all
    assert cfg.seeds("3diebench", "seqjepa", "released-mtr3") == (0,)
    assert cfg.seeds("3diebench", "seqjepa", "mtr3") == (0, 1, 2)
    assert cfg.released("3diebench", "seqjepa", "released-mtr3").filename == "3diebench/rot_mtr3.pth"
    assert cfg.released("3diebench", "seqjepa", "mtr3") is None
    assert [k for k in cfg.run_keys("3diebench") if k[2] == "released-mtr3"] == [("3diebench", "seqjepa", "released-mtr3", 0)]
    tproj = cfg.run_config("3diebench", "byol-cond", "tproj", 0)
    assert tproj.params == {"projector": "transformer"} and tproj.train.optimizer == "adamw"
    assert (tproj.train.lr, tproj.train.weight_decay, tproj.train.schedule) == (4e-4, 1e-3, "warmup_cosine")


def test_a_variant_removed_by_an_override_takes_its_table_rows_along(paper):
    demo = load_config(merged(paper, yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())))
    labels = [r.label for r in demo.tables["3diebench"].rows]
    assert "SimCLR" in labels and not any(l.startswith("released") for l in labels)
    paper["tables"]["3diebench"]["rows"].append({"label": "typo", "method": "seqjepa", "variant": "mtr33", "m_val": 3})
    with pytest.raises(ConfigError, match=r"tables.3diebench.rows\[\d+\].variant: 'mtr33' is not one of"):
        load_config(paper)  # a row on a variant that never existed is still an error
