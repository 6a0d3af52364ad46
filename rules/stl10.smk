# STL-10 saccades (paper §4.3): images + DeepGaze IIE saliency maps -> validated per-split indices.
# Exactly one of download/generate provides each of the two roots.
STL = CFG.datasets.get("stl10")


def stl10_ready():
    """The markers of both roots (images, saliency maps), or nothing for copies already on disk."""
    marks = dataset_ready("stl10")
    sal = Path(STL.saliency_root)
    if STL.source == "local" or (sal.is_dir() and any(sal.iterdir()) and not (sal / ".complete").exists()):
        if not (sal.is_dir() and any(sal.iterdir())):
            raise ConfigError(f"datasets.stl10.saliency_root: {STL.saliency_root} does not exist or is empty")
        return marks
    return marks + [f"{STL.saliency_root}/.complete"]


if STL is not None and STL.source == "synthetic":

    rule make_demo_stl10:
        localrule: True
        output:
            f"{STL.root}/.complete",
            f"{STL.saliency_root}/.complete",
        params:
            root=lambda w, output: Path(output[0]).parent,
            saliency_root=lambda w, output: Path(output[1]).parent,
            s=STL.synthetic,
        log:
            f"{RESULTS}/logs/make_demo_stl10.log",
        benchmark:
            f"{RESULTS}/benchmarks/make_demo_stl10.tsv"
        conda:
            CONDA_ENV
        shell:
            "{PYTHON} {SCRIPTS}/make_demo_stl10.py --root {params.root} --saliency-root {params.saliency_root} "
            "--train-per-class {params.s.train_objects} --test-per-class {params.s.val_objects} "
            "--unlabeled {params.s.unlabeled_images} --discs-per-colour {params.s.discs_per_colour} "
            "--light {params.s.light} --tint {params.s.tint} "
            "--seed {params.s.seed} > {log} 2>&1"

elif STL is not None:

    rule download_stl10:
        localrule: True
        output:
            f"{STL.root}/.complete",
        log:
            f"{RESULTS}/logs/download_stl10.log",
        conda:
            CONDA_ENV
        shell:
            "{PYTHON} {SCRIPTS}/download_stl10.py --what images --root $(dirname {output}) > {log} 2>&1"

    rule download_salmap_stl10:
        localrule: True
        output:
            f"{STL.saliency_root}/.complete",
        params:
            revision=STL.saliency_revision,
        log:
            f"{RESULTS}/logs/download_salmap_stl10.log",
        conda:
            CONDA_ENV
        shell:
            "{PYTHON} {SCRIPTS}/download_stl10.py --what saliency --root $(dirname {output}) "
            "--revision {params.revision} > {log} 2>&1"


if STL is not None:

    rule index_stl10:
        input:
            stl10_ready(),
        output:
            f"{RESULTS}/index/stl10/{{split}}.npz",
        log:
            f"{RESULTS}/logs/index_stl10_{{split}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/index_stl10_{{split}}.tsv"
        resources:
            mem_mb=8000,
            runtime=60,
        params:
            root=lambda w: STL.root,  # not always inputs: a local copy has no marker file
            saliency_root=lambda w: STL.saliency_root,
        conda:
            CONDA_ENV
        shell:
            "{PYTHON} {SCRIPTS}/index_stl10.py --root {params.root} --saliency-root {params.saliency_root} "
            "--split {wildcards.split} --out {output} > {log} 2>&1"
