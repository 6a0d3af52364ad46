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
            look=look_args(OOD.synthetic),
        log:
            f"{RESULTS}/logs/make_demo_3diebench_ood.log",
        benchmark:
            f"{RESULTS}/benchmarks/make_demo_3diebench_ood.tsv"
        threads: 8  # scaled down to --cores
        conda:
            CONDA_ENV
        shell:
            "{PYTHON} {SCRIPTS}/make_demo_3diebench_ood.py --root $(dirname {output}) --seed {params.s.seed} "
            "--classes {params.s.classes} --objects {params.s.val_objects} --image-size {params.s.image_size} "
            "--workers {threads} {params.look} > {log} 2>&1"

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
            "{PYTHON} {SCRIPTS}/download_hf.py --source 3diebench_ood --dest $(dirname {output}) {params.revision} "
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
        params:
            root=lambda w: OOD.root,  # not always an input: a local copy has no marker file
            splits_dir=lambda w: OOD.splits_dir,
        conda:
            CONDA_ENV
        shell:
            "{PYTHON} {SCRIPTS}/index_3diebench_ood.py --root {params.root} --splits-dir {params.splits_dir} "
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


# what each kind of analysis reads from every run (and seed) its rows point at
ANALYSIS_RESULT = {"retrieval": "retrieval.json", "ood": "ood.json", "path_integration": "path_integration.json",
                   "seq_length": "probe_seq_length.json"}


def analysis_inputs(name):
    a = CFG.analyses[name]
    runs = dict.fromkeys((r.method, r.variant) for r in a.rows)
    return [f"{run_dir(a.experiment, m, v, s)}/{ANALYSIS_RESULT[a.kind]}" for (m, v) in runs
            for s in CFG.seeds(a.experiment, m, v) if a.seeds is None or s in a.seeds]


def reading_analyses(kind, w):
    """The `kind` analyses whose rows point at this run."""
    return [a for a in CFG.analyses.values() if a.kind == kind and a.experiment == w.experiment
            and any((r.method, r.variant) == (w.method, w.variant) for r in a.rows)]


def path_integration_epochs(w):
    epochs = {a.probe_epochs for a in reading_analyses("path_integration", w) if a.probe_epochs}
    return f"--epochs {max(epochs)}" if epochs else ""


def analysis_m_val(kind, w):
    """The M_val axis of every `kind` analysis that reads this run."""
    return " ".join(str(m) for m in sorted({m for a in reading_analyses(kind, w) for m in a.m_val}))


# every per-run evaluation job here asks for what the run's probe job asks (rules/probe.smk)
def eval_threads(w):
    return max(1, probe_resources(w).gpus) * probe_resources(w).cpus_per_gpu


EVAL_RESOURCES = dict(
    gpu=lambda w: min(probe_resources(w).gpus, 1),
    cpus_per_gpu=lambda w: probe_resources(w).cpus_per_gpu if probe_resources(w).gpus else 0,
    mem_mb=lambda w: probe_resources(w).mem_mb,
    runtime=lambda w: probe_resources(w).runtime,
)


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
    threads: eval_threads
    resources:
        **EVAL_RESOURCES,
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/retrieval.py --checkpoint {input.checkpoint} --index {input.index} --root {params.root} "
        "--m-obs {params.m_obs} --out {output} --device {params.device} --threads {threads} > {log} 2>&1"


rule ood:
    input:
        checkpoint=lambda w: checkpoint_path(w.experiment, w.method, w.variant, w.seed),
        heads=f"{RUN_DIR}/probe_heads.pt",
        probe=f"{RUN_DIR}/probe.json",
        ood_index=f"{RESULTS}/index/3diebench_ood/ood.npz",
    output:
        f"{RUN_DIR}/ood.json",
    params:
        ood_root=OOD.root if OOD is not None else "",
        device=CFG.device,
    log:
        f"{RESULTS}/logs/ood/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/ood/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}.tsv"
    threads: eval_threads
    resources:
        **EVAL_RESOURCES,
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/ood.py --checkpoint {input.checkpoint} --heads {input.heads} --probe-json {input.probe} "
        "--ood-index {input.ood_index} --ood-root {params.ood_root} --out {output} --device {params.device} "
        "--threads {threads} > {log} 2>&1"


rule path_integration:
    input:
        checkpoint=lambda w: checkpoint_path(w.experiment, w.method, w.variant, w.seed),
        train_index=lambda w: index_path(w.experiment, "train"),
        test_index=lambda w: index_path(w.experiment, "val"),
    output:
        f"{RUN_DIR}/path_integration.json",
    params:
        root=lambda w: CFG.datasets[CFG.experiments[w.experiment].dataset].root,
        m_val=lambda w: analysis_m_val("path_integration", w),
        epochs=lambda w: path_integration_epochs(w),
        device=CFG.device,
    log:
        f"{RESULTS}/logs/path_integration/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/path_integration/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}.tsv"
    threads: eval_threads
    resources:
        **EVAL_RESOURCES,
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/path_integration.py --checkpoint {input.checkpoint} --train-index {input.train_index} "
        "--test-index {input.test_index} --root {params.root} --m-val {params.m_val} {params.epochs} --out {output} "
        "--device {params.device} --threads {threads} > {log} 2>&1"


rule probe_seq_length:
    input:
        checkpoint=lambda w: checkpoint_path(w.experiment, w.method, w.variant, w.seed),
        train_index=lambda w: index_path(w.experiment, "train"),
        test_index=lambda w: index_path(w.experiment, "val"),
    output:
        f"{RUN_DIR}/probe_seq_length.json",
    params:
        root=lambda w: CFG.datasets[CFG.experiments[w.experiment].dataset].root,
        m_val=lambda w: analysis_m_val("seq_length", w),
        device=CFG.device,
    log:
        f"{RESULTS}/logs/probe_seq_length/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/probe_seq_length/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}.tsv"
    threads: eval_threads
    resources:
        **EVAL_RESOURCES,
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/probe.py --checkpoint {input.checkpoint} --train-index {input.train_index} "
        "--test-index {input.test_index} --root {params.root} --m-val {params.m_val} --out {output} "
        "--device {params.device} --threads {threads} > {log} 2>&1"


rule analysis_path_integration:
    localrule: True
    input:
        lambda w: analysis_inputs(w.analysis),
    output:
        csv=f"{RESULTS}/tables/{{analysis}}.csv",
        png=report(f"{RESULTS}/figures/{{analysis}}.png", caption="../report/analysis.rst",
                   category=lambda w: analysis_category(w.analysis), subcategory="figures",
                   labels={"figure": "{analysis}"}),
    wildcard_constraints:
        analysis=one_of(n for n, a in CFG.analyses.items() if a.kind == "path_integration"),
    params:
        paper=lambda w: " ".join(CFG.analyses[w.analysis].paper_tables),
    log:
        f"{RESULTS}/logs/analysis_{{analysis}}.log",
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/analysis_figure.py --kind path_integration --results {input} --paper-tables {params.paper} "
        "--out-csv {output.csv} --out-png {output.png} > {log} 2>&1"


rule analysis_seq_length:
    localrule: True
    input:
        lambda w: analysis_inputs(w.analysis),
    output:
        csv=f"{RESULTS}/tables/{{analysis}}.csv",
        png=report(f"{RESULTS}/figures/{{analysis}}.png", caption="../report/analysis.rst",
                   category=lambda w: analysis_category(w.analysis), subcategory="figures",
                   labels={"figure": "{analysis}"}),
        curves=report(f"{RESULTS}/figures/{{analysis}}_curves.png", caption="../report/analysis.rst",
                      category=lambda w: analysis_category(w.analysis), subcategory="figures",
                      labels={"figure": "{analysis}_curves"}),
    wildcard_constraints:
        analysis=one_of(n for n, a in CFG.analyses.items() if a.kind == "seq_length"),
    params:
        paper=lambda w: " ".join(CFG.analyses[w.analysis].paper_tables),
    log:
        f"{RESULTS}/logs/analysis_{{analysis}}.log",
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/analysis_figure.py --kind seq_length --results {input} --paper-tables {params.paper} "
        "--out-csv {output.csv} --out-png {output.png} --out-curves {output.curves} > {log} 2>&1"


def embedding_checkpoints(w):
    """Fig. 4 / 5 draw one model per row: the run's first seed."""
    a = CFG.analyses[w.analysis]
    return [checkpoint_path(a.experiment, r.method, r.variant, (a.seeds or CFG.seeds(a.experiment, r.method, r.variant))[0])
            for r in a.rows]


rule analysis_embedding:
    input:
        checkpoints=embedding_checkpoints,
        index=lambda w: index_path(CFG.analyses[w.analysis].experiment, "val"),
    output:
        report(f"{RESULTS}/figures/{{analysis}}.png", caption="../report/analysis.rst",
               category=lambda w: analysis_category(w.analysis), subcategory="figures",
               labels={"figure": "{analysis}"}),
    wildcard_constraints:
        analysis=one_of(n for n, a in CFG.analyses.items() if a.kind in ("nn_grid", "umap")),
    params:
        kind=lambda w: CFG.analyses[w.analysis].kind,
        labels=lambda w: " ".join(f"'{r.label}'" for r in CFG.analyses[w.analysis].rows),
        m_val=lambda w: (CFG.analyses[w.analysis].m_val or (5,))[0],
        root=lambda w: CFG.datasets[CFG.experiments[CFG.analyses[w.analysis].experiment].dataset].root,
        device=CFG.device,
    log:
        f"{RESULTS}/logs/analysis_{{analysis}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/analysis_{{analysis}}.tsv"
    threads: 1
    resources:
        gpu=lambda w: min(CFG.resources["probe"].gpus, 1),
        mem_mb=lambda w: CFG.resources["probe"].mem_mb,
        runtime=60,
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/embedding_figure.py --kind {params.kind} --checkpoints {input.checkpoints} "
        "--labels {params.labels} --index {input.index} --root {params.root} --m-val {params.m_val} "
        "--out {output} --device {params.device} --threads {threads} > {log} 2>&1"


rule analysis_table:
    localrule: True
    input:
        lambda w: analysis_inputs(w.analysis),
    output:
        f"{RESULTS}/tables/{{analysis}}.csv",
    wildcard_constraints:
        analysis=one_of(n for n, a in CFG.analyses.items() if a.kind in ("retrieval", "ood")),
    params:
        spec=analysis_spec,
    log:
        f"{RESULTS}/logs/table_{{analysis}}.log",
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/table.py --spec-json {params.spec:q} --probes {input} --out {output} > {log} 2>&1"


def extras_targets():
    """What `all` adds for this file's settings: every analysis's table, and its figures."""
    out = []
    for n, a in CFG.analyses.items():
        if a.in_all:
            out += [f"{RESULTS}/tables/{n}.csv"] if a.kind not in ("nn_grid", "umap") else []
            out += [f"{RESULTS}/figures/{n}.png"] if a.kind not in ("retrieval", "ood") else []
            out += [f"{RESULTS}/figures/{n}_curves.png"] if a.kind == "seq_length" else []
    return out
