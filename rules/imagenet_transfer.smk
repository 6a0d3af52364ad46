# ImageNet-1k transfer (paper App. B.10, Fig. 15), outside `all`: the frozen STL-10 model's z_AGG probed on
# ImageNet saccades. `snakemake --profile slurm imagenet_transfer` (or the table's CSV by name). The images are
# the user's ILSVRC2012 copy (config transfer.<name>.image_root); the saliency maps come from the Hub.
from seqjepa_core.config import saliency_downloads

TRANSFER_DIR = f"{RESULTS}/transfer/{{transfer}}"


def transfer_input_missing(message):
    """A missing user-provided input: an error naming the config key, a warning in a dry run (-n lists the jobs)."""
    if workflow.dryrun:
        logger.warning(f"WARNING: {message}")
        return []
    raise ConfigError(message)


def transfer_images_ready(name):
    t = CFG.transfer[name]
    missing = [s for s in ("train", "val") if not (Path(t.image_root) / s).is_dir()]
    if missing:
        return transfer_input_missing(
            f"transfer.{name}.image_root: {t.image_root} has no {' or '.join(missing)} folder. ImageNet-1k "
            f"(ILSVRC2012) needs an account at image-net.org, so nothing downloads it: put your copy there as "
            f"train/<wnid>/*.JPEG and val/<wnid>/*.JPEG, or point the key at it (README: ImageNet transfer)")
    return []


def transfer_saliency_ready(name):
    t = CFG.transfer[name]
    if t.saliency_source == "download":
        return [f"{t.saliency_root}/.complete"]
    root = Path(t.saliency_root)
    if not (root.is_dir() and any(root.iterdir())):
        return transfer_input_missing(f"transfer.{name}.saliency_root: {t.saliency_root} does not exist or is "
                                      f"empty (saliency_source: local)")
    return []


def index_options(t, split, classes):
    """index_imagenet's optional flags: stored map size, the training subset, the training split's classes."""
    return " ".join(([f"--saliency-size {t.saliency_size}"] if t.saliency_size else [])
                    + ([f"--per-class {t.train_per_class}"] if t.train_per_class and split == "train" else [])
                    + ([f"--classes-from {classes}"] if classes else []))


def transfer_probes(name):
    return [f"{RESULTS}/transfer/{name}/patch{p}/probe.json" for p in CFG.transfer[name].patch_sizes]


def transfer_resources(w):
    return CFG.transfer[w.transfer].resources


# One download rule per saliency root (entries sharing a root share it; config.saliency_downloads checks they
# fetch the same files): download_salmap_<dataset>, and for a dataset's further roots _<the first entry's name>.
_salmap_rules = set()
for _root, _name in saliency_downloads(CFG.transfer).items():
    _t = CFG.transfer[_name]
    _rule = f"download_salmap_{_t.dataset}"
    _rule += f"_{_name}" if _rule in _salmap_rules else ""
    _salmap_rules.add(_rule)

    rule:
        name:
            _rule
        localrule: True
        output:
            f"{_root}/.complete",
        params:
            t=_t,
            patterns=" ".join(f"--pattern {p!r}" for p in _t.saliency_patterns),
        log:
            f"{RESULTS}/logs/transfer/{_name}/download_salmap.log",
        benchmark:
            f"{RESULTS}/benchmarks/transfer/{_name}/download_salmap.tsv"
        conda:
            CONDA_ENV
        shell:
            "{PYTHON} {SCRIPTS}/download_salmap_imagenet.py --root $(dirname {output}) "
            "--repo-id {params.t.saliency_repo} --revision {params.t.saliency_revision} {params.patterns} "
            "> {log} 2>&1"


rule index_imagenet:
    input:
        images=lambda w: transfer_images_ready(w.transfer),
        saliency=lambda w: transfer_saliency_ready(w.transfer),
        classes=lambda w: [f"{RESULTS}/transfer/{w.transfer}/index/train.npz"] if w.split == "val" else [],
    output:
        f"{TRANSFER_DIR}/index/{{split}}.npz",
    wildcard_constraints:
        transfer=one_of(CFG.transfer),
        split="train|val",
    params:
        t=lambda w: CFG.transfer[w.transfer],
        options=lambda w, input: index_options(CFG.transfer[w.transfer], w.split, input.classes),
    log:
        f"{RESULTS}/logs/transfer/{{transfer}}/index_{{split}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/transfer/{{transfer}}/index_{{split}}.tsv"
    threads: 8
    resources:
        mem_mb=16000,
        runtime=240,
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/index_imagenet.py --image-root {params.t.image_root} "
        "--saliency-root {params.t.saliency_root} --split {wildcards.split} --saliency-name {params.t.saliency_name:q} "
        "--missing {params.t.missing_saliency} --image-size {params.t.image_size} {params.options} "
        "--threads {threads} --out {output} > {log} 2>&1"


rule probe_imagenet_transfer:
    input:
        checkpoint=lambda w: checkpoint_path(CFG.transfer[w.transfer].experiment, CFG.transfer[w.transfer].method,
                                             CFG.transfer[w.transfer].variant, CFG.transfer[w.transfer].seed),
        train_index=f"{TRANSFER_DIR}/index/train.npz",
        test_index=f"{TRANSFER_DIR}/index/val.npz",
    output:
        f"{TRANSFER_DIR}/patch{{patch}}/probe.json",
    wildcard_constraints:
        transfer=one_of(CFG.transfer),
        patch="[0-9]+",
    params:
        t=lambda w: CFG.transfer[w.transfer],
        data=lambda w: json.dumps(CFG.transfer[w.transfer].data_options(int(w.patch))),
        probe=lambda w: json.dumps(dataclasses.asdict(CFG.transfer[w.transfer].probe)),
        device=CFG.device,
    log:
        f"{RESULTS}/logs/transfer/{{transfer}}/probe_patch{{patch}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/transfer/{{transfer}}/probe_patch{{patch}}.tsv"
    threads: lambda w: max(1, transfer_resources(w).gpus) * transfer_resources(w).cpus_per_gpu
    resources:
        gpu=lambda w: min(transfer_resources(w).gpus, 1),
        cpus_per_gpu=lambda w: transfer_resources(w).cpus_per_gpu if transfer_resources(w).gpus else 0,
        mem_mb=lambda w: transfer_resources(w).mem_mb,
        runtime=lambda w: transfer_resources(w).runtime,
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/probe_imagenet_transfer.py --checkpoint {input.checkpoint} "
        "--train-index {input.train_index} --test-index {input.test_index} --dataset {params.t.dataset} "
        "--data-json {params.data:q} --probe-json {params.probe:q} --workers {params.t.num_workers} "
        "--out {output} --device {params.device} --threads {threads} > {log} 2>&1"


rule imagenet_transfer_table:
    localrule: True
    input:
        lambda w: transfer_probes(w.transfer),
    output:
        f"{RESULTS}/tables/{{transfer}}.csv",
    wildcard_constraints:
        transfer=one_of(CFG.transfer),
    params:
        paper=lambda w: CFG.transfer[w.transfer].paper_table,
    log:
        f"{RESULTS}/logs/transfer/{{transfer}}/table.log",
    benchmark:
        f"{RESULTS}/benchmarks/transfer/{{transfer}}/table.tsv"
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/imagenet_transfer_table.py --inputs {input} --paper-table {params.paper} "
        "--out {output} > {log} 2>&1"


rule imagenet_transfer_figure:
    localrule: True
    input:
        f"{RESULTS}/tables/{{transfer}}.csv",
    output:
        f"{RESULTS}/figures/{{transfer}}.png",
    wildcard_constraints:
        transfer=one_of(CFG.transfer),
    log:
        f"{RESULTS}/logs/transfer/{{transfer}}/figure.log",
    benchmark:
        f"{RESULTS}/benchmarks/transfer/{{transfer}}/figure.tsv"
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/imagenet_transfer_figure.py --table {input} --out {output} > {log} 2>&1"


# Not part of `all`: every transfer's table and figure.
rule imagenet_transfer:
    input:
        [f"{RESULTS}/{kind}/{name}.{ext}" for name in CFG.transfer for kind, ext in (("tables", "csv"), ("figures", "png"))],
