# 3DIEBench beyond Table 1 (issue #10): the OOD rotations of Table 9, fetched from the Hub (or generated for
# the demo) and indexed with the training classes.
OOD = CFG.datasets.get("3diebench_ood")

if OOD is not None and OOD.source == "synthetic":

    rule make_demo_3diebench_ood:
        localrule: True
        output:
            f"{OOD.root}/.complete",
        params:
            s=OOD.synthetic,
        log:
            f"{RESULTS}/logs/make_demo_3diebench_ood.log",
        benchmark:
            f"{RESULTS}/benchmarks/make_demo_3diebench_ood.tsv"
        threads: 8  # scaled down to --cores
        conda:
            CONDA_ENV
        shell:
            "{PYTHON} {SCRIPTS}/make_demo_3diebench_ood.py --root {OOD.root} --seed {params.s.seed} "
            "--classes {params.s.classes} --objects {params.s.val_objects} --image-size {params.s.image_size} "
            "--workers {threads} > {log} 2>&1"

elif OOD is not None:

    rule download_3diebench_ood:
        localrule: True
        output:
            f"{OOD.root}/.complete",
        params:
            revision=f"--revision {OOD.revision}" if OOD.revision else "",
        log:
            f"{RESULTS}/logs/download_3diebench_ood.log",
        benchmark:
            f"{RESULTS}/benchmarks/download_3diebench_ood.tsv"
        conda:
            CONDA_ENV
        shell:
            "{PYTHON} {SCRIPTS}/download_hf.py --source 3diebench_ood --dest {OOD.root} {params.revision} "
            "> {log} 2>&1"


if OOD is not None:

    rule index_3diebench_ood:
        input:
            data=dataset_ready("3diebench_ood"),
            train_index=f"{RESULTS}/index/3diebench/train.npz",
        output:
            f"{RESULTS}/index/3diebench_ood/ood.npz",
        log:
            f"{RESULTS}/logs/index_3diebench_ood.log",
        benchmark:
            f"{RESULTS}/benchmarks/index_3diebench_ood.tsv"
        resources:
            mem_mb=8000,
            runtime=60,
        conda:
            CONDA_ENV
        shell:
            "{PYTHON} {SCRIPTS}/index_3diebench_ood.py --root {OOD.root} --splits-dir {OOD.splits_dir} "
            "--train-index {input.train_index} --out {output} > {log} 2>&1"


def extras_targets():
    """What `all` adds for this file's settings."""
    return [f"{RESULTS}/index/3diebench_ood/ood.npz"] if OOD is not None else []
