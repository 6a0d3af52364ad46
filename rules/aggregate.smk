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
    wildcard_constraints:
        table=one_of(CFG.tables),  # tables/ also holds the analyses' CSVs (rules/threedie_extras.smk)
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
        lambda w: figure_inputs(w.figure),
    output:
        report(f"{RESULTS}/figures/{{figure}}.png", caption="../report/figure.rst",
               category=lambda w: figure_category(w.figure), subcategory="figures", labels={"figure": "{figure}"}),
    wildcard_constraints:
        figure=one_of(CFG.figures),
    params:
        spec=figure_spec,
        kind=lambda w: CFG.figures[w.figure].kind,
        source=lambda w: figure_source(w.figure),
    log:
        f"{RESULTS}/logs/figure_{{figure}}.log",
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/figure.py --spec-json {params.spec:q} --inputs {input} --out {output} > {log} 2>&1"
