# Raw data -> validated compact indices. Exactly one of download/generate provides each dataset.
TDIE = CFG.datasets["3diebench"] if "3diebench" in CFG.datasets else None
SYNTHETIC = TDIE is not None and TDIE.source == "synthetic"

if SYNTHETIC:

    rule make_demo_3diebench:
        localrule: True
        output:
            f"{TDIE.root}/.complete",
        params:
            splits_dir=TDIE.splits_dir,
            s=TDIE.synthetic,
            rotation_scale=" ".join(str(r) for r in TDIE.synthetic.rotation_scale),
            look=look_args(TDIE.synthetic),
        log:
            f"{RESULTS}/logs/make_demo_3diebench.log",
        benchmark:
            f"{RESULTS}/benchmarks/make_demo_3diebench.tsv"
        threads: 8  # scaled down to --cores (local) or local-cores (cluster)
        # First: it heads the demo's longest chain (seq-JEPA's 3,000 steps), and with all the cores it needs
        # it would otherwise wait until no single-core job is ready (minutes on 2 cores).
        priority: 1
        conda:
            CONDA_ENV
        shell:
            "{PYTHON} {SCRIPTS}/make_demo_3diebench.py --root $(dirname {output}) --splits-dir {params.splits_dir} "
            "--seed {params.s.seed} --classes {params.s.classes} --train-objects {params.s.train_objects} "
            "--val-objects {params.s.val_objects} --image-size {params.s.image_size} --workers {threads} "
            "--rotation-scale {params.rotation_scale} {params.look} "
            "> {log} 2>&1"

else:

    rule download_3diebench:
        localrule: True
        output:
            f"{TDIE.root if TDIE else 'data/3DIEBench'}/.complete",
        params:
            splits_dir=TDIE.splits_dir if TDIE else "data/3DIEBench_splits",
        log:
            f"{RESULTS}/logs/download_3diebench.log",
        conda:
            CONDA_ENV
        shell:
            "{PYTHON} {SCRIPTS}/download_3diebench.py --root $(dirname {output}) "
            "--splits-dir {params.splits_dir} > {log} 2>&1"


rule index_3diebench:
    input:
        dataset_ready("3diebench") if TDIE else [],
    output:
        f"{RESULTS}/index/3diebench/{{split}}.npz",
    log:
        f"{RESULTS}/logs/index_3diebench_{{split}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/index_3diebench_{{split}}.tsv"
    params:
        root=lambda w: TDIE.root,  # not always an input: a local copy has no marker file
        splits_dir=lambda w: TDIE.splits_dir,
    resources:
        mem_mb=16000,
        runtime=120,
    priority: 1  # the next link of the longest chain (see make_demo_3diebench)
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/index_3diebench.py --root {params.root} --splits-dir {params.splits_dir} "
        "--split {wildcards.split} --out {output} > {log} 2>&1"
