"""The study's numbers agree with each other and with the decoders' own records, on a small random pair."""

import json
from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch

from conftest import make_llama, noisy_copy
from specdec_lite import speculative_generate
from specdec_lite.study import (
    DOMAINS,
    StudyConfig,
    acceptance_by_domain,
    analyse_study,
    compare_predictors,
    depth_profile,
    format_report,
    load_frame,
    run_study,
    save_frame,
    study_report,
)

matplotlib.use("Agg")


def _prompts(per_domain=2, vocab=64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [
        SimpleNamespace(id=f"{domain}-{i}", domain=domain,
                        prompt=torch.randint(vocab, (6,), generator=generator).tolist())
        for domain in DOMAINS for i in range(per_domain)
    ]


@pytest.fixture(scope="module")
def pair():
    target = make_llama(0, hidden=32, layers=2, init=0.4)
    return noisy_copy(target, 0.3, seed=1), target


@pytest.fixture(scope="module")
def chain_study(pair):
    draft, target = pair
    config = StudyConfig(mode="chain", gamma=3, max_new_tokens=20, n_resamples=300)
    return run_study(draft, target, _prompts(), config)


def test_counts_agree_with_step_records(chain_study):
    nodes, steps = chain_study.nodes, chain_study.steps
    assert len(nodes) == steps["drafted"].sum()
    assert nodes["accepted"].sum() == steps["accepted"].sum()
    summary = acceptance_by_domain(chain_study).set_index("domain")
    assert list(summary.index) == list(DOMAINS)
    for domain, row in summary.iterrows():
        of_domain = steps[steps["domain"] == domain]
        assert row["nodes"] == of_domain["drafted"].sum()
        assert row["acceptance_rate"] == pytest.approx(of_domain["accepted"].sum() / of_domain["drafted"].sum())
        assert row["expected_accepted_length"] == pytest.approx(of_domain["accepted"].mean())
        assert row["acceptance_ci_low"] <= row["acceptance_rate"] <= row["acceptance_ci_high"]
        assert row["accepted_length_ci_low"] <= row["expected_accepted_length"] <= row["accepted_length_ci_high"]
        assert 0 <= row["alpha"] <= 1


def test_agrees_with_the_decoder(pair, chain_study):
    draft, target = pair
    prompt = _prompts()[0]
    result = speculative_generate(draft, target, torch.tensor(prompt.prompt), 20, gamma=3)
    steps = chain_study.steps[chain_study.steps["prompt_id"] == prompt.id]
    assert steps["accepted"].sum() / steps["drafted"].sum() == pytest.approx(result.acceptance_rate)
    assert steps["accepted"].mean() == pytest.approx(result.mean_accepted)


def test_depth_profile_and_tested_nodes(chain_study):
    profile = depth_profile(chain_study)
    assert profile["nodes"].sum() == len(chain_study.nodes)
    assert (profile["tested"] <= profile["nodes"]).all()
    # in a chain every node at depth 1 is tested; deeper ones only after an accepted parent
    assert (profile.loc[profile["depth"] == 1, "tested"] == profile.loc[profile["depth"] == 1, "nodes"]).all()


def test_predictor_comparison_runs(chain_study):
    verdict = compare_predictors(chain_study)
    assert isinstance(verdict["domain_better"], bool)
    for fit in (verdict["domain"], verdict["depth"]):
        assert 0 <= fit["pseudo_r2"] <= 1 and 0 <= fit["auc"] <= 1
    assert "than depth" in verdict["verdict"]


def test_one_domain_is_not_testable(pair):
    draft, target = pair
    config = StudyConfig(mode="chain", domains=("code",), max_new_tokens=8, n_resamples=100)
    verdict = compare_predictors(run_study(draft, target, _prompts(), config))
    assert verdict["domain_better"] is None and verdict["verdict"].startswith("not testable")


def test_report_is_json_and_text(chain_study):
    report = study_report(chain_study)
    json.dumps(report, allow_nan=False)
    assert report["totals"]["nodes"] == len(chain_study.nodes)
    assert "Verdict" in format_report(chain_study)


def test_reports_from_one_analysis_match_their_own(chain_study):
    analysis = analyse_study(chain_study)
    assert study_report(chain_study, analysis) == study_report(chain_study)
    assert format_report(chain_study, analysis) == format_report(chain_study)


@pytest.mark.parametrize("suffix", ["csv", "csv.gz"])
def test_csv_round_trip(chain_study, tmp_path, suffix):
    for frame in (chain_study.nodes, chain_study.steps):
        path = save_frame(frame, tmp_path / f"frame.{suffix}")
        pd.testing.assert_frame_equal(load_frame(path), frame, check_dtype=False)
    if suffix.endswith(".gz"):
        assert path.read_bytes()[:2] == b"\x1f\x8b", "a .gz path must be written gzip-compressed"


def test_parquet_needs_pyarrow(chain_study, tmp_path):
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="pyarrow"):
            save_frame(chain_study.nodes, tmp_path / "nodes.parquet")
    else:
        path = save_frame(chain_study.nodes, tmp_path / "nodes.parquet")
        pd.testing.assert_frame_equal(load_frame(path), chain_study.nodes, check_dtype=False)


def test_quick_config_is_small():
    quick = StudyConfig().quick()
    assert quick.prompts_per_domain == 2 and quick.max_new_tokens == 16 and quick.mode == "tree"


def test_figures(chain_study):
    from specdec_lite import plots

    summary = acceptance_by_domain(chain_study)
    for figure in (plots.depth_profile_plot(depth_profile(chain_study)),
                   plots.entropy_acceptance_plot(chain_study.nodes),
                   plots.accepted_length_plot(summary)):
        assert figure.axes
        matplotlib.pyplot.close(figure)


def test_tree_study(pair):
    draft, target = pair
    config = StudyConfig(mode="tree", depth=3, branching=2, max_new_tokens=12, n_resamples=200)
    result = run_study(draft, target, _prompts(per_domain=1), config)
    assert len(result.nodes) == result.steps["drafted"].sum()
    summary = acceptance_by_domain(result)
    assert np.allclose(summary["acceptance_rate"], summary["accepted"] / summary["nodes"])
    for _, step in result.nodes.groupby(["prompt_id", "step"]):
        parents = step["parent"].to_numpy()
        assert ((parents >= -1) & (parents < len(step))).all()


def test_tree_figure(pair):
    from specdec_lite import plots
    from specdec_lite.tree_speculative import tree_speculative_generate

    draft, target = pair
    result = tree_speculative_generate(draft, target, torch.tensor([1, 2, 3]), 8, depth=2, branching=2)
    figure = plots.tree_step_plot(result, 0)
    assert "step 0" in figure.axes[0].get_title()
    matplotlib.pyplot.close(figure)


def _hand_made_nodes() -> pd.DataFrame:
    """Three tree steps (depth 3, branching 2 in spirit) whose per-level outcomes are worked out by hand.

    step 0: the path is accepted down to depth 3      -> levels 1, 2, 3 reached, all accepted
    step 1: both depth-1 nodes are rejected           -> level 1 reached, not accepted
    step 2: depth 1 accepted, both its children not   -> levels 1, 2 reached, level 1 accepted
    So 6 levels are reached and 4 accepted: acceptance per level 4/6. Of the 16 drafted nodes 4 are
    accepted (per node 1/4); the accepted lengths are 3, 0 and 1 (mean 4/3).
    """
    rows = []
    #            step, depth, parent, accepted
    layout = {0: [(1, -1, 1), (1, -1, 0), (2, 0, 1), (2, 0, 0), (3, 2, 1), (3, 2, 0)],
              1: [(1, -1, 0), (1, -1, 0), (2, 0, 0), (2, 0, 0), (2, 1, 0), (2, 1, 0)],
              2: [(1, -1, 1), (1, -1, 0), (2, 0, 0), (2, 0, 0)]}
    for step, nodes in layout.items():
        for depth, parent, accepted in nodes:
            rows.append({"prompt_id": "p", "domain": "chat", "step": step, "depth": depth, "parent": parent,
                         "rank": 0, "accepted": bool(accepted)})
    return pd.DataFrame(rows)


def test_level_acceptance_on_a_hand_made_table():
    from specdec_lite.study import level_outcomes

    nodes = _hand_made_nodes()
    levels = level_outcomes(nodes)
    assert levels[["step", "depth", "accepted"]].values.tolist() == [
        [0, 1, True], [0, 2, True], [0, 3, True], [1, 1, False], [2, 1, True], [2, 2, False]]
    assert levels["accepted"].mean() == pytest.approx(4 / 6)
    assert nodes["accepted"].mean() == pytest.approx(4 / 16)


def test_accepted_length_from_the_per_level_rate_matches_the_paper():
    """alpha + alpha^2 + alpha^3: chat's 0.565 gives the published 1.065; only rates above ~0.544 pass 1.0."""
    from specdec_lite.study import predicted_accepted_length

    assert predicted_accepted_length(0.565, 3) == pytest.approx(1.065, abs=5e-4)
    assert predicted_accepted_length(0.518, 3) == pytest.approx(0.925, abs=5e-4)
    assert predicted_accepted_length(0.545, 3) > 1.0 > predicted_accepted_length(0.543, 3)
    assert predicted_accepted_length(1.0, 4) == 4


def test_level_acceptance_reported_per_domain(chain_study):
    from specdec_lite.study import level_outcomes, predicted_accepted_length

    summary = acceptance_by_domain(chain_study).set_index("domain")
    levels = level_outcomes(chain_study.nodes)
    for domain, row in summary.iterrows():
        of_domain = levels[levels["domain"] == domain]
        assert row["levels_reached"] == len(of_domain)
        assert row["level_acceptance"] == pytest.approx(of_domain["accepted"].mean())
        assert row["predicted_accepted_length"] == pytest.approx(predicted_accepted_length(row["level_acceptance"], 3))
        # in a chain a reached level is a tested node
        tested = chain_study.nodes[(chain_study.nodes["domain"] == domain) & chain_study.nodes["tested"]]
        assert row["levels_reached"] == len(tested)
