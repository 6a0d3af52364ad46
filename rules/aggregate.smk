# Probe results of every seed -> the paper's tables (CSV, with the paper's number and the gap) and figures.


def table_spec(w):
    t = CFG.tables[w.table]
    rows = [dict(label=r.label, method=r.method, variant=r.variant, m_val=r.m_val,
                 family=get_method_class(r.method).family) for r in t.rows]
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


rule figure:
    localrule: True
    input:
        lambda w: f"{RESULTS}/tables/{CFG.figures[w.figure].table}.csv",
    output:
        report(f"{RESULTS}/figures/{{figure}}.png", caption="../report/figure.rst",
               category=lambda w: figure_category(w.figure), subcategory="figures", labels={"figure": "{figure}"}),
    params:
        kind=lambda w: CFG.figures[w.figure].kind,
        table=lambda w: CFG.figures[w.figure].table,
    log:
        f"{RESULTS}/logs/figure_{{figure}}.log",
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/figure.py --table {input} --out {output} > {log} 2>&1"
