# Frozen probes of one pretrained run (paper §5.5): linear top-1, relative/individual rotation R², colour R².
def probe_resources(w):
    return CFG.job_resources(w.experiment, "probe")


rule probe:
    input:
        checkpoint=lambda w: checkpoint_path(w.experiment, w.method, w.variant, w.seed),
        train_index=lambda w: index_path(w.experiment, get_dataset_info(CFG.experiments[w.experiment].dataset).train_split),
        test_index=lambda w: index_path(w.experiment, get_dataset_info(CFG.experiments[w.experiment].dataset).test_split),
    output:
        json=f"{RUN_DIR}/probe.json",
        heads=f"{RUN_DIR}/probe_heads.pt",  # scored on 3DIEBench-OOD by rule ood (rules/threedie_extras.smk)
    params:
        root=lambda w: CFG.datasets[CFG.experiments[w.experiment].dataset].root,
        device=CFG.device,
    log:
        f"{RESULTS}/logs/probe/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/probe/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}.tsv"
    threads: lambda w: max(1, probe_resources(w).gpus) * probe_resources(w).cpus_per_gpu
    resources:
        gpu=lambda w: min(probe_resources(w).gpus, 1),
        cpus_per_gpu=lambda w: probe_resources(w).cpus_per_gpu if probe_resources(w).gpus else 0,
        mem_mb=lambda w: probe_resources(w).mem_mb,
        runtime=lambda w: probe_resources(w).runtime,
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/probe.py --checkpoint {input.checkpoint} --train-index {input.train_index} "
        "--test-index {input.test_index} --root {params.root} --out {output.json} --heads-out {output.heads} "
        "--device {params.device} --threads {threads} > {log} 2>&1"
