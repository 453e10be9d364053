"""Exact multi-token distributions by enumeration, and a chi-square test of sampled continuations.

Used by every sampler test: the sampler's empirical frequencies of ``n``-token continuations must
fit the target's exact distribution, and must NOT fit the draft's (which shows the test has power).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from specdec_lite.statistics import chi_square_test

VOCAB = 6            # small enough to enumerate every 3-token continuation
PROMPT = [1, 4, 2]
N_SAMPLES = 3000


def far_models():
    """A target and an unrelated draft (draft, target): their next-token distributions differ a lot."""
    from conftest import make_llama

    target = make_llama(10, vocab=VOCAB, hidden=16, layers=1, init=0.5)
    draft = make_llama(11, vocab=VOCAB, hidden=16, layers=1, init=0.5)
    return draft, target


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
    """Pearson chi-square p-value of ``samples`` against ``expected``; rare outcomes are pooled into one cell.

    The outcomes (continuations) are numbered and handed to the course's own test,
    :func:`specdec_lite.statistics.chi_square_test`, which the lessons use too. A sample outside ``expected``
    is an impossible continuation: it raises, since the enumeration holds every continuation.
    """
    index = {outcome: i for i, outcome in enumerate(expected)}
    unknown = [s for s in samples if s not in index]
    if unknown:
        raise ValueError(f"samples {unknown[:3]} are not among the enumerated continuations.")
    probs = np.array(list(expected.values()), dtype=np.float64)
    return chi_square_test([index[s] for s in samples], probs, min_expected=min_expected).pvalue
