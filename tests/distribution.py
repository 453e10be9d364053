"""Exact multi-token distributions by enumeration, and a chi-square test of sampled continuations.

Used by every sampler test: the sampler's empirical frequencies of ``n``-token continuations must
fit the target's exact distribution, and must NOT fit the draft's (which shows the test has power).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from scipy import stats


@torch.inference_mode()
def exact_continuations(model, prompt: list[int], n: int, temperature: float = 1.0) -> dict[tuple[int, ...], float]:
    """P(continuation) for every ``n``-token continuation of ``prompt``, by enumerating all of them."""
    vocab = model.config.vocab_size
    probs: dict[tuple[int, ...], float] = {}
    for head in itertools.product(range(vocab), repeat=n - 1):
        ids = torch.tensor([prompt + list(head)], device=model.device)
        logits = model(ids).logits[0, len(prompt) - 1:].double().cpu()
        dist = torch.softmax(logits / temperature, dim=-1)
        head_prob = float(np.prod([dist[i, t].item() for i, t in enumerate(head)]))
        for last in range(vocab):
            probs[head + (last,)] = head_prob * dist[n - 1, last].item()
    return probs


def chi_square_pvalue(samples: list[tuple[int, ...]], expected: dict[tuple[int, ...], float], min_expected: float = 5.0) -> float:
    """Pearson chi-square p-value of ``samples`` against ``expected``; rare outcomes are pooled into one cell."""
    n = len(samples)
    counts: dict[tuple[int, ...], int] = {}
    for s in samples:
        counts[s] = counts.get(s, 0) + 1
    observed, predicted, pool_obs, pool_exp = [], [], 0, 0.0
    for outcome, prob in expected.items():
        if prob * n >= min_expected:
            observed.append(counts.get(outcome, 0))
            predicted.append(prob * n)
        else:
            pool_obs += counts.get(outcome, 0)
            pool_exp += prob * n
    if pool_exp > 0:
        observed.append(pool_obs)
        predicted.append(pool_exp)
    observed, predicted = np.array(observed, float), np.array(predicted, float)
    predicted *= observed.sum() / predicted.sum()
    return float(stats.chisquare(observed, predicted).pvalue)
