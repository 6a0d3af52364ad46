# Probe results of every seed -> the paper's tables (CSV, with the paper's number and the gap) and figures.


def table_spec(w):
    t = CFG.tables[w.table]
    rows = [dict(label=r.label, method=r.method, variant=r.variant, m_val=r.m_val,
                 family=get_method_class(r.method).family, **({"experiment": r.experiment} if r.experiment else {}))
            for r in t.rows]
    return json.dumps({"table": w.table, "experiment": t.experiment, "paper_tables": list(t.paper_tables),
                       "rows": rows})


rule table:
    localrule: True
    input:
        lambda w: table_probes(w.table),
    output:
        f"{RESULTS}/tables/{{table}}.csv",
    params:
        spec=table_spec,
    log:
        f"{RESULTS}/logs/table_{{table}}.log",
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/table.py --spec-json {params.spec:q} --probes {input} --out {output} > {log} 2>&1"


def figure_tables(w):
    f = CFG.figures[w.figure]
    return [f"{RESULTS}/tables/{t}.csv" for t in (f.table, *f.panels)]


rule figure:
    localrule: True
    input:
        figure_tables,
    output:
        f"{RESULTS}/figures/{{figure}}.png",
    params:
        kind=lambda w: CFG.figures[w.figure].kind,
        title=lambda w: CFG.figures[w.figure].title,
    log:
        f"{RESULTS}/logs/figure_{{figure}}.log",
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/figure.py --kind {params.kind} --table {input} --title {params.title:q} "
        "--out {output} > {log} 2>&1"
