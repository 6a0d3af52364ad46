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
     r"experiments.3diebench.dataset: '3diebench_ood' is not one of \['3diebench'\]"),  # evaluation only
])
def test_bad_analysis_names_the_key(paper, mutate, message):
    mutate(paper)
    with pytest.raises(ConfigError, match=message):
        load_config(paper)
