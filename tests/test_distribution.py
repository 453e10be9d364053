"""Losslessness: sampled continuations follow the target's exact distribution, not the draft's.

The target's distribution over every n-token continuation is computed by enumeration; a Pearson
chi-square test compares it with the frequencies of many seeded speculative samples. The same
samples tested against the draft's exact distribution must be rejected, which shows the test has
the power to catch a sampler that leaks the draft's distribution.
"""

from __future__ import annotations

import pytest
import torch

from specdec_lite import autoregressive_generate, speculative_generate

from distribution import N_SAMPLES, PROMPT, chi_square_pvalue, exact_continuations, far_models

@pytest.fixture(scope="module")
def far_pair():
    """A target and an unrelated draft: their next-token distributions differ a lot."""
    return far_models()

def _samples(decode, n_tokens: int) -> list[tuple[int, ...]]:
    return [tuple(decode(seed, n_tokens).tokens.tolist()) for seed in range(N_SAMPLES)]

@pytest.mark.parametrize("gamma,n_tokens", [(1, 2), (2, 3)])
def test_speculative_samples_follow_target(far_pair, gamma, n_tokens):
    draft, target = far_pair

    prompt = torch.tensor([PROMPT])
    samples = _samples(lambda s, n: speculative_generate(draft, target, prompt, n, gamma=gamma, temperature=1.0, seed=s), n_tokens)
    p_exact = exact_continuations(target, PROMPT, n_tokens)
    q_exact = exact_continuations(draft, PROMPT, n_tokens)
    assert chi_square_pvalue(samples, p_exact) > 0.01
    assert chi_square_pvalue(samples, q_exact) < 1e-6  # power: the draft's own distribution is rejected

def test_temperature_is_applied_to_both_models(far_pair):

    draft, target = far_pair
    prompt = torch.tensor([PROMPT])
    samples = _samples(lambda s, n: speculative_generate(draft, target, prompt, n, gamma=2, temperature=0.6, seed=s), 2)
    assert chi_square_pvalue(samples, exact_continuations(target, PROMPT, 2, temperature=0.6)) > 0.01
    assert chi_square_pvalue(samples, exact_continuations(target, PROMPT, 2, temperature=1.0)) < 1e-6

def test_autoregressive_samples_follow_target(far_pair):

    _, target = far_pair
    prompt = torch.tensor([PROMPT])
    samples = _samples(lambda s, n: autoregressive_generate(target, prompt, n, temperature=1.0, seed=s), 2)
    assert chi_square_pvalue(samples, exact_continuations(target, PROMPT, 2)) > 0.01

def test_same_seed_same_tokens(far_pair):

    draft, target = far_pair
    prompt = torch.tensor([PROMPT])
    runs = [speculative_generate(draft, target, prompt, 12, gamma=3, temperature=1.0, seed=5).tokens.tolist() for _ in range(2)]
    assert runs[0] == runs[1]


def test_a_wrong_sampler_is_caught(far_pair, monkeypatch):
    """Mutation check: resampling from p instead of the residual after a rejection must fail the test."""
    import specdec_lite.speculative as speculative

    draft, target = far_pair
    monkeypatch.setattr(speculative, "residual", lambda p, q: p)
    prompt = torch.tensor([PROMPT])
    samples = _samples(lambda s, n: speculative_generate(draft, target, prompt, n, gamma=1, temperature=1.0, seed=s), 2)
    assert chi_square_pvalue(samples, exact_continuations(target, PROMPT, 2)) < 1e-6
