# seq-JEPA reproduction: download -> index -> pretrain (x seeds) -> probe -> tables and figures.
#   snakemake --profile slurm all                        the whole paper on a SLURM cluster
#   snakemake results/tables/3diebench.csv --cores 8     one table and only what it needs
#   snakemake --configfile config/demo.yaml --cores 2    the demo on built-in generated data (make demo)

configfile: "config.yaml"


report: "report/workflow.rst"  # snakemake --report results/report.zip (make report)


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/augment.smk"
include: "rules/stl10.smk"
include: "rules/pretrain.smk"
include: "rules/probe.smk"
include: "rules/aggregate.smk"
include: "rules/released.smk"
include: "rules/threedie_extras.smk"
include: "rules/report.smk"
include: "rules/imagenet_transfer.smk"  # Fig. 15, outside `all`: snakemake imagenet_transfer


# Downloads, demo data and aggregation are `localrule: True`: they run where Snakemake runs.
localrules: all


rule all:
    input:
        all_targets(),
        extras_targets(),
    default_target: True


# Tables with `in_all: false` (the high-compute regime, Table 11: ~100 A100-hours per run) are built only
# when asked for: `snakemake --profile slurm outside_all`, or the table's CSV by name.
rule outside_all:
    input:
        [f"{RESULTS}/tables/{t}.csv" for t, table in CFG.tables.items() if not table.in_all],
