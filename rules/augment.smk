# CIFAR-100 and Tiny ImageNet (paper Table 2): download (or generate, in the demo) -> packed uint8 indices.
# One rule of each kind per configured dataset; pretraining and probes are the shared rules.
AUGMENT_SOURCES = {"cifar100": "cifar100", "tinyimagenet": "tinyimagenet"}  # dataset -> download.SOURCES name

for _name in [d for d in AUGMENT_SOURCES if d in CFG.datasets]:
    _ds = CFG.datasets[_name]
    if _ds.source == "synthetic":

        rule:
            name:
                f"make_demo_{_name}"
            localrule: True
            output:
                f"{_ds.root}/.complete",
            params:
                dataset=_name,
                s=_ds.synthetic,
            log:
                f"{RESULTS}/logs/make_demo_{_name}.log",
            benchmark:
                f"{RESULTS}/benchmarks/make_demo_{_name}.tsv"
            conda:
                CONDA_ENV
            shell:
                "{PYTHON} {SCRIPTS}/make_demo_images.py --dataset {params.dataset} --root $(dirname {output}) "
                "--archive-dir $(dirname {output})_downloads --classes {params.s.classes} "
                "--train-per-class {params.s.train_objects} --test-per-class {params.s.val_objects} "
                "--seed {params.s.seed} > {log} 2>&1"

    else:

        rule:
            name:
                f"download_{_name}"
            localrule: True
            output:
                f"{_ds.root}/.complete",
            params:
                source=AUGMENT_SOURCES[_name],
            log:
                f"{RESULTS}/logs/download_{_name}.log",
            conda:
                CONDA_ENV
            shell:
                "{PYTHON} {SCRIPTS}/download_dataset.py --source {params.source} --root $(dirname {output}) > {log} 2>&1"

    rule:
        name:
            f"index_{_name}"
        input:
            dataset_ready(_name),
        output:
            f"{RESULTS}/index/{_name}/{{split}}.npz",
        params:
            dataset=_name,
            root=lambda w, root=_ds.root: root,  # not always an input: a local copy has no marker file
        log:
            f"{RESULTS}/logs/index_{_name}_{{split}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/index_{_name}_{{split}}.tsv"
        resources:
            mem_mb=16000,
            runtime=60,
        conda:
            CONDA_ENV
        shell:
            "{PYTHON} {SCRIPTS}/index_images.py --dataset {params.dataset} --root {params.root} "
            "--split {wildcards.split} --out {output} > {log} 2>&1"
