"""Property tests of the acceptance rule's pure functions, on many seeded random distributions."""

from __future__ import annotations

import pytest
import torch

from specdec_lite import sampling


def _random_distributions(n: int, vocab: int, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        logits = torch.randn(vocab, generator=g) * (0.5 + 3 * torch.rand((), generator=g))
        if i % 4 == 0:  # some distributions with exact zeros
            logits[torch.rand(vocab, generator=g) < 0.5] = -float("inf")
            logits[0] = 0.0
        out.append(torch.softmax(logits, dim=-1))
    return out


PAIRS = list(zip(_random_distributions(200, 11, seed=0), _random_distributions(200, 11, seed=1)))


def test_residual_is_a_distribution():
    for p, q in PAIRS:
        r = sampling.residual(p, q)
        assert torch.all(r >= 0)
        assert torch.isclose(r.sum(), torch.tensor(1.0), atol=1e-6)
        assert torch.all(r[p <= q] == 0)  # mass only where the target wants more than the draft gave


def test_acceptance_probabilities_lie_in_unit_interval():
    for p, q in PAIRS:
        support = q > 0
        a = sampling.acceptance_probability(p[support], q[support])
        assert torch.all((a >= 0) & (a <= 1))


def test_accept_then_residual_reproduces_p():
    """q(y) min(1, p(y)/q(y)) + (1 - sum_x min(p(x), q(x))) residual(y) == p(y), for every y."""
    for p, q in PAIRS:
        accepted = torch.where(q > 0, q * torch.clamp(p / q.clamp_min(1e-30), max=1.0), torch.zeros_like(q))
        rejected = 1 - torch.minimum(p, q).sum()
        assert torch.allclose(accepted + rejected * sampling.residual(p, q), p, atol=1e-6)


def test_residual_of_identical_distributions_is_p():
    p = PAIRS[0][0]
    assert torch.equal(sampling.residual(p, p), p)


def test_point_masses_make_greedy_decisions():
    logits = torch.tensor([0.1, 2.0, -1.0, 2.0])
    p = sampling.distribution(logits, 0.0)
    assert p.tolist() == [0.0, 1.0, 0.0, 0.0]  # first argmax on ties, as torch.argmax and generate
    q = sampling.point_mass(3, 4)
    g = torch.Generator().manual_seed(0)
    assert all(sampling.accept(p[1], 1.0, g) for _ in range(100))  # the draft guessed the argmax
    assert not any(sampling.accept(p[3], q[3], g) for _ in range(100))  # it did not
    assert sampling.residual(p, q).tolist() == p.tolist()  # the correction is the target's argmax
    assert sampling.sample(p, g) == 1


def test_sample_frequencies_match_distribution():
    p = torch.tensor([0.1, 0.0, 0.6, 0.3])
    g = torch.Generator().manual_seed(0)
    counts = torch.bincount(torch.tensor([sampling.sample(p, g) for _ in range(20000)]), minlength=4)
    assert counts[1] == 0
    assert torch.allclose(counts / 20000, p, atol=0.01)


def test_entropy_in_nats():
    assert sampling.entropy(torch.full((4,), 0.25)).item() == pytest.approx(torch.log(torch.tensor(4.0)).item())
    assert sampling.entropy(sampling.point_mass(2, 5)).item() == 0.0


def test_bad_values_are_rejected():
    with pytest.raises(ValueError, match="temperature"):
        sampling.distribution(torch.zeros(3), -1.0)
    with pytest.raises(ValueError, match="q\\(x\\) must be positive"):
        sampling.acceptance_probability(0.5, 0.0)


def test_generator_is_seeded_once_and_reproducible():
    a, b = sampling.make_generator(3), sampling.make_generator(3)
    assert torch.equal(torch.rand(5, generator=a), torch.rand(5, generator=b))
