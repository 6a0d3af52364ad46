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


# ------------------------------------------------------------------ analyses (config `analyses:`)


def analysis_rows(kind, experiment, method, variant):
    return [r for a in CFG.analyses.values() if a.kind == kind and a.experiment == experiment
            for r in a.rows if (r.method, r.variant) == (method, variant)]


def analysis_spec(w):
    a = CFG.analyses[w.analysis]
    rows = [dict(label=r.label, method=r.method, variant=r.variant, m_val=r.m_val,
                 family=get_method_class(r.method).family) for r in a.rows]
    return json.dumps({"table": w.analysis, "experiment": a.experiment, "paper_tables": list(a.paper_tables),
                       "rows": rows})


ANALYSIS_RESULT = {"retrieval": "retrieval.json"}


def analysis_inputs(name):
    a = CFG.analyses[name]
    runs = dict.fromkeys((r.method, r.variant) for r in a.rows)
    return [f"{run_dir(a.experiment, m, v, s)}/{ANALYSIS_RESULT[a.kind]}" for (m, v) in runs
            for s in CFG.seeds(a.experiment, m, v)]


def eval_resources(w):
    return CFG.job_resources(w.experiment, "probe")


rule retrieval:
    input:
        checkpoint=lambda w: checkpoint_path(w.experiment, w.method, w.variant, w.seed),
        index=lambda w: index_path(w.experiment, get_dataset_info(CFG.experiments[w.experiment].dataset).test_split),
    output:
        f"{RUN_DIR}/retrieval.json",
    params:
        root=lambda w: CFG.datasets[CFG.experiments[w.experiment].dataset].root,
        m_obs=lambda w: " ".join(str(m) for m in sorted({r.m_val or 1 for r in analysis_rows(
            "retrieval", w.experiment, w.method, w.variant)} or {1})),
        device=CFG.device,
    log:
        f"{RESULTS}/logs/retrieval/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/retrieval/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}.tsv"
    threads: lambda w: max(1, eval_resources(w).gpus) * eval_resources(w).cpus_per_gpu
    resources:
        gpu=lambda w: min(eval_resources(w).gpus, 1),
        cpus_per_gpu=lambda w: eval_resources(w).cpus_per_gpu if eval_resources(w).gpus else 0,
        mem_mb=lambda w: eval_resources(w).mem_mb,
        runtime=lambda w: eval_resources(w).runtime,
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/retrieval.py --checkpoint {input.checkpoint} --index {input.index} --root {params.root} "
        "--m-obs {params.m_obs} --out {output} --device {params.device} --threads {threads} > {log} 2>&1"


rule analysis_table:
    localrule: True
    input:
        lambda w: analysis_inputs(w.analysis),
    output:
        f"{RESULTS}/tables/{{analysis}}.csv",
    wildcard_constraints:
        analysis=one_of(n for n, a in CFG.analyses.items() if a.kind == "retrieval"),
    params:
        spec=analysis_spec,
    log:
        f"{RESULTS}/logs/table_{{analysis}}.log",
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/table.py --spec-json {params.spec:q} --probes {input} --out {output} > {log} 2>&1"


def extras_targets():
    """What `all` adds for this file's settings."""
    return ([f"{RESULTS}/index/3diebench_ood/ood.npz"] if OOD is not None else []) + [
        f"{RESULTS}/tables/{n}.csv" for n, a in CFG.analyses.items() if a.in_all and a.kind == "retrieval"]
