import copy
from pathlib import Path

import pytest
import yaml

from seqjepa_core.config import ConfigError, RunConfig, load_config

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
     r"experiments.3diebench.probe.m_val: must be positive"),
    (lambda c: c["tables"]["3diebench"]["rows"][8].update(m_val=7),
     r"tables.3diebench.rows\[8\].m_val: 7 is not one of \[1, 3, 5\]"),
    (lambda c: c["datasets"]["3diebench"].update(source="ftp"),
     r"datasets.3diebench.source: 'ftp' is not one of"),
    (lambda c: c.update(device="tpu"), r"device: 'tpu' is not one of"),
])
def test_bad_config_names_the_key(paper, mutate, message):
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
