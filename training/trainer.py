"""The one training loop both pairs use: AdamW on a warm-up-then-cosine schedule, with forward-KL distillation.

The pairs differ only in settings (:class:`Schedule`, weight decay, how often to log) and in how a batch's
loss is computed, which each trainer passes in as ``loss_at(step) -> (loss, metrics)``:

* the tiny pair (:mod:`training.train_tiny`): cross-entropy for its target, :func:`forward_kl` to the
  target for its draft, on random windows of the corpus;
* the SmolLM2 draft (:mod:`training.train_smol`): :func:`forward_kl` to SmolLM2 over the answers of the
  distillation data, with checkpoints, ``--minutes`` and ``--resume``.

Why distil: speculative decoding rewards only agreement with the target, so a draft is trained to imitate
the target's next-token distributions p (forward KL, ``sum_x p(x) log(p(x) / q(x))``), not the raw text.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Schedule:
    """Learning rate: linear warm-up to ``peak`` over ``warmup`` steps, then cosine decay to ``floor * peak``."""

    peak: float
    warmup: int
    floor: float


def lr_at(step: int, steps: int, schedule: Schedule) -> float:
    """The learning rate of ``step`` (counted from 0) in a run of ``steps`` steps."""
    if step < schedule.warmup:
        return schedule.peak * (step + 1) / schedule.warmup
    progress = min(1.0, (step - schedule.warmup) / max(1, steps - schedule.warmup))
    return schedule.peak * (schedule.floor + (1 - schedule.floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def forward_kl(log_q: torch.Tensor, log_p: torch.Tensor) -> torch.Tensor:
    """Mean over positions of KL(p || q), from log-probabilities of shape (positions, vocabulary)."""
    return F.kl_div(log_q, log_p, log_target=True, reduction="batchmean")


def fit(model: torch.nn.Module, loss_at: Callable[[int], tuple[torch.Tensor, dict]], steps: int, schedule: Schedule,
        *, weight_decay: float, log_every: int, label: str, loss_name: str = "loss", checkpoint: Path | None = None,
        resume: bool = False, rng: np.random.Generator | None = None, minutes: float | None = None) -> list[dict]:
    """Train ``model`` for ``steps`` steps of AdamW (betas 0.9/0.95, gradients clipped at 1.0); returns the log.

    ``loss_at(step)`` draws the step's batch and returns its loss and a dict of scalar metrics to log. The
    log has one entry every ``log_every`` steps and at the last: the step, the loss (under ``loss_name``),
    the metrics and the seconds so far. With ``checkpoint``, the model, the optimizer, the state of ``rng``
    (the generator ``loss_at`` draws from) and the log are saved every 500 steps and when ``minutes`` run
    out, which stops the run cleanly; ``resume`` continues from that file.
    """
    opt = torch.optim.AdamW(model.parameters(), lr=schedule.peak, betas=(0.9, 0.95), weight_decay=weight_decay)
    log, first = [], 0
    if resume and checkpoint is not None and checkpoint.exists():
        state = torch.load(checkpoint, map_location=next(model.parameters()).device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        rng.bit_generator.state = state["rng"]
        log, first = state["log"], state["step"]
    model.train()
    start = time.time()
    for step in range(first, steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, schedule)
        loss, metrics = loss_at(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % log_every == 0 or step == steps - 1:
            figures = {loss_name: loss.item()} | {name: value.item() for name, value in metrics.items()}
            log.append({"step": step} | {name: round(value, 4) for name, value in figures.items()}
                       | {"seconds": round(time.time() - start, 1)})
            shown = " ".join(f"{name} {value:.3f}" for name, value in figures.items())
            print(f"{label} step {step}/{steps} {shown} ({time.time() - start:.0f}s)", flush=True)
        timed_out = minutes is not None and time.time() - start > 60 * minutes
        if checkpoint is not None and ((step + 1) % 500 == 0 or timed_out):
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "rng": rng.bit_generator.state,
                        "log": log, "step": step + 1}, checkpoint)
        if timed_out:
            print(f"stopped after {minutes} minutes at step {step + 1}; continue with --resume", flush=True)
            break
    model.eval()
    return log


def save_float16(model: torch.nn.Module, folder: Path) -> None:
    """Float16 safetensors (half the bytes; :func:`specdec_lite.load_pair` loads them as float32)."""
    model.to(torch.float16).save_pretrained(folder, safe_serialization=True)
    model.to(torch.float32)
