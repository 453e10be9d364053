"""Acceptance against temperature: beta(T) = sum min(p_T, q_T), checked against the acceptance rule it predicts."""

from __future__ import annotations

import math

import pytest
import torch

from specdec_lite import load_pair, load_prompts, sampling
from specdec_lite.calls import forward, new_cache
from specdec_lite.statistics import ratio_ci
from specdec_lite.temperature import (acceptance_curve, greedy_answers, overlap, sampled_acceptance,
                                      teacher_forced_logits)


def _logits(seed: int, rows: int = 6, vocab: int = 13) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(rows, vocab, generator=g) * 2


def test_overlap_is_one_minus_total_variation_and_has_the_right_limits():
    z_p, z_q = _logits(0), _logits(1)
    for temperature in (0.3, 1.0, 2.5):
        p, q = torch.softmax(z_p.double() / temperature, -1), torch.softmax(z_q.double() / temperature, -1)
        tv = 0.5 * (p - q).abs().sum(-1)
        assert torch.allclose(overlap(z_p, z_q, temperature), 1 - tv, atol=1e-12)
    greedy = (z_p.argmax(-1) == z_q.argmax(-1)).double()
    assert torch.equal(overlap(z_p, z_q, 0.0), greedy)
    assert torch.allclose(overlap(z_p, z_q, 1e-3), greedy, atol=1e-6)  # T -> 0 tends to the point masses
    assert torch.all(overlap(z_p, z_q, 1e4) > 0.999)  # T -> infinity: both uniform
    assert torch.allclose(overlap(z_p, z_p, 0.7), torch.ones(len(z_p), dtype=torch.float64))


def test_overlap_is_the_chance_that_the_acceptance_rule_keeps_a_drafted_token():
    """Draw x ~ q_T, keep it with min(1, p_T(x)/q_T(x)) (the library's rule): the kept fraction is beta(T), within a
    binomial 4.5-sigma band; the same draws are far from beta at another temperature (the test has power)."""
    z_p, z_q = _logits(2, rows=1)[0], _logits(3, rows=1)[0]
    temperature, n = 0.8, 40_000
    p, q = sampling.distribution(z_p, temperature), sampling.distribution(z_q, temperature)
    g = sampling.make_generator(0)
    kept = sum(bool(sampling.accept(p[x], q[x], g)) for x in (sampling.sample(q, g) for _ in range(n)))
    beta = float(overlap(z_p, z_q, temperature))
    sigma = math.sqrt(beta * (1 - beta) / n)
    assert abs(kept / n - beta) < 4.5 * sigma
    other = float(overlap(z_p, z_q, 2.0))
    assert abs(kept / n - other) > 10 * sigma, (beta, other)


def test_ratio_ci_brackets_the_pooled_ratio_and_is_nan_for_one_text():
    low, high = ratio_ci([3, 5, 2, 8], [10, 10, 5, 12], seed=0)
    assert low <= 18 / 37 <= high
    assert all(math.isnan(v) for v in ratio_ci([1], [2]))


@pytest.fixture(scope="module")
def tiny():
    return load_pair("tiny")


def test_teacher_forced_logits_are_the_models_own_predictions(tiny):
    prompt = tiny.encode("def add(a, b):")
    answer = [int(t) for t in tiny.encode(" return a + b")[1:]]
    p_logits, q_logits = teacher_forced_logits(tiny.draft, tiny.target, prompt, answer)
    assert p_logits.shape == q_logits.shape == (len(answer), tiny.target.config.vocab_size)
    full = torch.cat([prompt, torch.tensor(answer)])
    for model, got in ((tiny.target, p_logits), (tiny.draft, q_logits)):
        with torch.inference_mode():
            expected = forward(model, full, new_cache())[len(prompt) - 1:-1]
        assert torch.allclose(got, expected.float(), atol=1e-4)


def test_curve_and_sampled_acceptance_on_the_tiny_pair(tiny):
    prompts = [p for d in ("code", "chat") for p in load_prompts(d, prompt_set="tiny")[:2]]
    texts = greedy_answers(tiny, prompts, 16)
    curve = acceptance_curve(tiny, texts, (0.0, 0.5, 1.0))
    assert set(curve["domain"]) == {"code", "chat", "all"} and len(curve) == 9
    assert curve["rate"].between(0, 1).all() and (curve["low"] <= curve["rate"]).all() and (curve["rate"] <= curve["high"]).all()
    every = curve.query("domain == 'all'")
    assert (every["positions"] == sum(len(t.answer) for t in texts)).all()
    # at T = 0, beta is the fraction of the target's greedy tokens that are also the draft's argmax
    agree = positions = 0
    for text in texts:
        p_logits, q_logits = teacher_forced_logits(tiny.draft, tiny.target, text.prompt_ids, text.answer)
        assert p_logits.argmax(-1).tolist() == text.answer  # the text is the target's own greedy answer
        agree += int((q_logits.argmax(-1) == p_logits.argmax(-1)).sum())
        positions += len(text.answer)
    assert every.query("temperature == 0")["rate"].item() == pytest.approx(agree / positions)

    sampled = sampled_acceptance(tiny, prompts, (0.0, 1.0), gamma=3, max_new_tokens=16)
    assert len(sampled) == 6 and sampled["rate"].between(0, 1).all() and (sampled["tested"] > 0).all()
