# One pretraining job per (experiment, method, variant, seed). Resume state lives in state/ beside the
# outputs, which Snakemake never deletes, so a preempted or retried job continues where it stopped.
def pretrain_resources(w):
    """resources.pretrain with the experiment's overrides (experiments.<name>.resources.pretrain)."""
    return CFG.job_resources(w.experiment, "pretrain")


def launcher(gpus):
    """N > 1 GPUs: one process per GPU through torchrun (DistributedDataParallel)."""
    if gpus > 1:
        return f"{PYTHON} -m torch.distributed.run --standalone --nproc_per_node {gpus}"
    return PYTHON


rule pretrain:
    input:
        index=lambda w: index_path(w.experiment, get_dataset_info(CFG.experiments[w.experiment].dataset).pretraining_split),
    output:
        checkpoint=f"{RUN_DIR}/checkpoint.pt",
        metrics=f"{RUN_DIR}/metrics.csv",
        config=f"{RUN_DIR}/config.json",
        provenance=f"{RUN_DIR}/provenance.json",
    params:
        run=lambda w: run_config(w).to_json(),
        root=lambda w: CFG.datasets[CFG.experiments[w.experiment].dataset].root,
        launcher=lambda w: launcher(pretrain_resources(w).gpus),
        device=CFG.device,
    log:
        f"{RESULTS}/logs/pretrain/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/pretrain/{{experiment}}/{{method}}/{{variant}}/seed{{seed}}.tsv"
    threads: lambda w: max(1, pretrain_resources(w).gpus) * pretrain_resources(w).cpus_per_gpu
    resources:
        gpu=lambda w: pretrain_resources(w).gpus,
        cpus_per_gpu=lambda w: pretrain_resources(w).cpus_per_gpu if pretrain_resources(w).gpus else 0,
        mem_mb=lambda w: pretrain_resources(w).mem_mb,
        runtime=lambda w: pretrain_resources(w).runtime,
        # SLURM sends SIGTERM to the job's processes 5 minutes before its time limit: the trainer
        # checkpoints at the next step and exits; Snakemake's retry resumes it. (B:USR1 would reach only
        # the batch shell, which dies and takes the job with it.)
        slurm_extra="'--signal=TERM@300'",
    conda:
        CONDA_ENV
    shell:
        "{params.launcher} {SCRIPTS}/pretrain.py --run-json {params.run:q} --index {input.index} "
        "--root {params.root} --out-dir $(dirname {output.checkpoint}) --device {params.device} "
        "--threads {threads} >> {log} 2>&1"
