"""Learning-rate schedules, as pure functions of the step (so a resumed run recomputes them exactly)."""

from __future__ import annotations

import math


def warmup_cosine_lr(step: int, total_steps: int, warmup_steps: int, peak_lr: float,
                     start_lr: float, final_lr: float, after_warmup: str = "cosine") -> float:
    """Linear warm-up from ``start_lr`` to ``peak_lr``, then cosine decay to ``final_lr`` (paper §5.4).

    ``after_warmup="constant"`` reproduces the official code, which keeps ``peak_lr`` after warm-up (§6.2).
    """
    if after_warmup not in ("cosine", "constant"):
        raise ValueError(f"unknown after_warmup {after_warmup!r}; valid: ['cosine', 'constant']")
    if step < warmup_steps:
        return start_lr + (peak_lr - start_lr) * step / warmup_steps
    if after_warmup == "constant":
        return peak_lr
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return final_lr + (peak_lr - final_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def learning_rate(schedule: str, step: int, total_steps: int, warmup_steps: int, peak_lr: float,
                  start_lr: float, final_lr: float, after_warmup: str) -> float:
    if schedule == "constant":
        return peak_lr
    if schedule == "warmup_cosine":
        return warmup_cosine_lr(step, total_steps, warmup_steps, peak_lr, start_lr, final_lr, after_warmup)
    raise ValueError(f"unknown lr schedule {schedule!r}; valid: ['constant', 'warmup_cosine']")
