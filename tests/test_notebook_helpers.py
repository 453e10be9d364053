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


# --- Lessons 5 and 6 (specdec_lite.notebook, section "Lessons 5 and 6") ---


def _made_up_grid():
    """A speed-up grid in the shape of results/speedup/, with invented measurements (no timing involved)."""
    import pandas as pd

    from specdec_lite.theory import expected_speedup, expected_tokens_per_call

    rows = []
    for temperature, alpha in ((0.0, 0.6), (0.5, 0.5), (1.0, 0.4)):
        for gamma in range(1, 5):
            verify = 1 + 0.15 * gamma
            rows.append({
                "temperature": temperature, "gamma": gamma, "alpha": alpha, "c": 0.05,
                "measured_speedup": 0.9 - 0.05 * gamma, "measured_speedup_iqr": 0.1,
                "predicted_speedup": expected_speedup(alpha, gamma, 0.05),
                "predicted_speedup_verify": expected_speedup(alpha, gamma, 0.05, verify=verify),
                "verify_ratio": verify, "measured_tokens_per_call": expected_tokens_per_call(alpha, gamma) - 0.1,
                "predicted_tokens_per_call": expected_tokens_per_call(alpha, gamma),
            })
    return pd.DataFrame(rows)


def test_format_bytes():
    from specdec_lite.notebook import format_bytes

    assert format_bytes(0) == "0 B" and format_bytes(1023) == "1023 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(5_598_720) == "5.34 MiB"
    assert format_bytes(1 << 30) == "1 GiB" and format_bytes(13_476_831_360) == "12.6 GiB"


def test_speedup_page_shows_the_chosen_cell():
    from specdec_lite.notebook import speedup_page

    grid = _made_up_grid()
    page = speedup_page(grid, 3, 0.5, title="made up")
    assert 'data-gamma="3"' in page and 'data-temperature="0.5"' in page
    assert "alpha = 0.50" in page and 'src="data:image/png;base64,' in page and "specdec-speedup-table" in page
    assert page != speedup_page(grid, 3, 1.0)
    missing = speedup_page(grid.drop(index=grid.index[(grid.gamma == 2) & (grid.temperature == 0.0)]), 2, 0.0)
    assert "not measured" in missing and "specdec-speedup-table" not in missing
    with pytest.raises(ValueError, match="verify_ratio"):
        speedup_page(grid.drop(columns="verify_ratio"), 3, 0.5)


def test_speedup_explorer_follows_its_sliders():
    from specdec_lite.notebook import speedup_explorer

    box = speedup_explorer(_made_up_grid(), gamma=2, temperature=0.4)
    (gamma, temperature), view = box.children[0].children, box.children[1]
    assert (gamma.description, temperature.description) == ("gamma", "temperature")
    assert "specdec-speedup" in box._dom_classes and "specdec-speedup-view" in view._dom_classes
    assert "specdec-speedup-gamma" in gamma._dom_classes and "specdec-speedup-temperature" in temperature._dom_classes
    assert (gamma.min, gamma.max, temperature.min, temperature.max, temperature.step) == (1, 4, 0.0, 1.0, 0.5)
    assert 'data-gamma="2" data-temperature="0.5"' in view.value
    gamma.value = 4
    assert 'data-gamma="4" data-temperature="0.5"' in view.value
    temperature.value = 1.0
    assert 'data-gamma="4" data-temperature="1"' in view.value and "alpha = 0.40" in view.value
    uneven = _made_up_grid()
    uneven["temperature"] = uneven["temperature"].replace(1.0, 0.7)
    with pytest.raises(ValueError, match="evenly spaced"):
        speedup_explorer(uneven)


def test_gpu_run_reads_the_committed_measurements():
    from specdec_lite.notebook import gpu_run

    bench = gpu_run("smol_bench.json")["bench_smol"]
    assert bench["kind"] == "bench" and 0 < bench["cost"]["c"] < 1
    with pytest.raises(FileNotFoundError, match="docs/gpu_runs"):
        gpu_run("no_such_run.json")
