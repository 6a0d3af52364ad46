# The authors' released checkpoints (paper §7.3): download at the configured revision, import into our
# checkpoint format; the `probe` rule then evaluates them exactly like our own runs (rules/probe.smk).
RELEASED_DIR = f"{RESULTS}/released/{{experiment}}/{{method}}/{{variant}}"


def released(w):
    r = CFG.released(w.experiment, w.method, w.variant)
    if r is None:
        raise ConfigError(f"experiments.{w.experiment}.runs.{w.method}.{w.variant}: not a released checkpoint")
    return r


rule download_released:
    localrule: True
    output:
        f"{RELEASED_DIR}/download/.complete",
    params:
        ckpt=released,
    log:
        f"{RESULTS}/logs/released/{{experiment}}/{{method}}/{{variant}}/download.log",
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/download_hf.py --repo-id {params.ckpt.repo} --repo-type {params.ckpt.repo_type} "
        "--revision {params.ckpt.revision} --filename {params.ckpt.filename:q} --dest $(dirname {output}) "
        "> {log} 2>&1"


rule import_released:
    localrule: True
    input:
        f"{RELEASED_DIR}/download/.complete",
    output:
        f"{RELEASED_DIR}/seed{{seed}}/checkpoint.pt",
    params:
        ckpt=released,
        run=lambda w: run_config(w).to_json(),
    log:
        f"{RESULTS}/logs/released/{{experiment}}/{{method}}/{{variant}}/import_seed{{seed}}.log",
    conda:
        CONDA_ENV
    shell:
        "{PYTHON} {SCRIPTS}/import_released.py --marker {input} --filename {params.ckpt.filename:q} "
        "--run-json {params.run:q} --out {output} > {log} 2>&1"
