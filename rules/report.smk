# The HTML report (`snakemake --report results/report.zip`, `make report`): every table beside the paper,
# every figure, each experiment's training curves, and provenance. Categories are the paper's settings
# (the dataset registry's paper_setting); subcategories are tables, figures, training.


rule report_table:
    localrule: True
    input:
        f"{RESULTS}/tables/{{table}}.csv",
    output:
        report(f"{RESULTS}/tables/{{table}}.html", caption="../report/table.rst",
               category=lambda w: table_category(w.table), subcategory="tables", labels={"table": "{table}"}),
    params:
        experiment=lambda w: report_tables()[w.table][0],
        paper_tables=lambda w: " ".join(report_tables()[w.table][1]) or "none",
    log:
        f"{RESULTS}/logs/report_table_{{table}}.log",
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/report_table.py --table {input} --title {wildcards.table:q} --out {output} "
        "--description 'experiment {params.experiment}; paper numbers from {params.paper_tables}' > {log} 2>&1"


def trained_run_probes(experiment):
    """The probe.json of the experiment's trained runs that `all` makes anyway (the set built once, not per run)."""
    made = probes_in_all()
    return [p for d in trained_run_dirs(experiment) if (p := f"{d}/probe.json") in made]


rule training_curves:
    localrule: True
    input:
        metrics=lambda w: [f"{d}/metrics.csv" for d in trained_run_dirs(w.experiment)],
        probes=lambda w: trained_run_probes(w.experiment),
    output:
        report(f"{RESULTS}/figures/training/{{experiment}}.png", caption="../report/training.rst",
               category=lambda w: experiment_category(w.experiment), subcategory="training",
               labels={"experiment": "{experiment}"}),
    params:
        runs=lambda w: trained_run_dirs(w.experiment),
    log:
        f"{RESULTS}/logs/training_curves_{{experiment}}.log",
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/training_curves.py --runs {params.runs} --title 'training: {wildcards.experiment}' "
        "--out {output} > {log} 2>&1"


rule report_provenance:
    localrule: True
    input:
        provenance=[f"{d}/provenance.json" for d in all_trained_run_dirs()],
        configs=[f"{d}/config.json" for d in all_trained_run_dirs()],
    output:
        report(f"{RESULTS}/provenance.html", caption="../report/provenance.rst", category="Provenance",
               labels={"page": "provenance"}),
    params:
        config=json.dumps(dataclasses.asdict(CFG), default=str),
        runs=all_trained_run_dirs(),
    log:
        f"{RESULTS}/logs/report_provenance.log",
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/report_provenance.py --config-json {params.config:q} --runs {params.runs} "
        "--out {output} > {log} 2>&1"


rule report_overview:
    localrule: True
    input:
        [a["path"] for a in report_artefacts()],
    output:
        report(f"{RESULTS}/overview.html", caption="../report/overview.rst", category="Overview",
               labels={"page": "overview"}),
    params:
        artefacts=json.dumps(report_artefacts()),
    log:
        f"{RESULTS}/logs/report_overview.log",
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/report_overview.py --artefacts-json {params.artefacts:q} --out {output} > {log} 2>&1"
