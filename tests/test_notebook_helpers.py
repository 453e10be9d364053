"""The notebook-only helpers of lessons 3 and 4 (``specdec_lite.notebook``, section "Lessons 3 and 4")."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from specdec_lite.notebook import chi_square_test, format_pvalue, random_parents
from specdec_lite.tree import TokenTree


def _draws(probs: torch.Tensor, n: int, seed: int) -> np.ndarray:
    return torch.multinomial(probs, n, replacement=True, generator=torch.Generator().manual_seed(seed)).numpy()


def test_chi_square_accepts_samples_of_the_distribution_and_rejects_another():
    p = torch.tensor([0.3, 0.25, 0.2, 0.12, 0.08, 0.05], dtype=torch.float64)
    q = torch.tensor([0.1, 0.35, 0.05, 0.3, 0.15, 0.05], dtype=torch.float64)
    right = chi_square_test(_draws(p, 20_000, 0), p)
    assert right.pvalue > 1e-3 and right.cells == 6 and right.dof == 5
    assert chi_square_test(_draws(q, 20_000, 0), p).pvalue < 1e-12


def test_chi_square_matches_scipy_without_pooling():
    p = torch.tensor([0.5, 0.3, 0.2])
    samples = _draws(p, 3000, 1)
    observed = np.bincount(samples, minlength=3)
    expected = 3000 * p.double().numpy()
    assert chi_square_test(samples, p).statistic == pytest.approx(stats.chisquare(observed, expected).statistic)


def test_chi_square_pools_rare_outcomes_into_one_cell():
    p = torch.softmax(torch.linspace(0, 8, 200), dim=0)  # most of the 200 tokens are rare
    result = chi_square_test(_draws(p, 5000, 2), p, min_expected=5.0)
    common = int((p * 5000 >= 5.0).sum())
    assert result.cells == common + 1 and result.pvalue > 1e-3


def test_chi_square_of_an_impossible_sample_is_a_certain_rejection():
    p = torch.tensor([0.5, 0.5, 0.0])
    result = chi_square_test([0, 1, 2, 0, 1] * 20, p)
    assert result.pvalue == 0.0 and result.statistic == float("inf")


def test_chi_square_rejects_bad_input():
    with pytest.raises(ValueError, match="no samples"):
        chi_square_test([], torch.tensor([0.5, 0.5]))
    with pytest.raises(ValueError, match="token ids"):
        chi_square_test([0, 3], torch.tensor([0.5, 0.5]))


def test_format_pvalue():
    assert format_pvalue(0.0) == "< 1e-300"
    assert format_pvalue(0.51234) == "0.51"
    assert format_pvalue(3.2e-7) == "3.2e-07"


def test_random_parents_are_valid_trees():
    generator = torch.Generator().manual_seed(0)
    for n in (0, 1, 5, 40):
        parents = random_parents(n, generator)
        assert len(parents) == n and TokenTree(torch.tensor(parents, dtype=torch.long)).size == n
    first = random_parents(30, torch.Generator().manual_seed(3))
    assert first == random_parents(30, torch.Generator().manual_seed(3))
    assert len(set(first)) > 3  # not a chain or a star
