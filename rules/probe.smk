# Frozen probes of one pretrained run (paper §5.5): linear top-1, relative/individual rotation R², colour R².
PROBE = CFG.resources["probe"]


rule probe:
    input:
        checkpoint=f"{RUN_DIR}/checkpoint.pt",
        train_index=lambda w: index_path(w.experiment, get_dataset_info(CFG.experiments[w.experiment].dataset).train_split),
        test_index=lambda w: index_path(w.experiment, get_dataset_info(CFG.experiments[w.experiment].dataset).test_split),
    output:
        f"{RUN_DIR}/probe.json",
    params:
        root=lambda w: CFG.datasets[CFG.experiments[w.experiment].dataset].root,
        device=CFG.device,
    log:
        f"{RESULTS}/logs/probe/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/probe/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}.tsv"
    threads: max(1, PROBE.gpus) * PROBE.cpus_per_gpu
    resources:
        gpu=min(PROBE.gpus, 1),
        cpus_per_gpu=PROBE.cpus_per_gpu if PROBE.gpus else 0,
        mem_mb=PROBE.mem_mb,
        runtime=PROBE.runtime,
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/probe.py --checkpoint {input.checkpoint} --train-index {input.train_index} "
        "--test-index {input.test_index} --root {params.root} --out {output} --device {params.device} "
        "--threads {threads} > {log} 2>&1"
