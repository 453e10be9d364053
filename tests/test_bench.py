"""The benchmark on a tiny random pair: sane numbers, and HF assisted generation prints the target's greedy output."""

import json
import math

import numpy as np
import pytest
import torch

from conftest import make_llama, noisy_copy
from specdec_lite import autoregressive_generate
from specdec_lite.bench import BenchConfig, cost_coefficient, hf_assisted_generate, run_bench, step_time


@pytest.fixture(scope="module")
def pair():
    target = make_llama(0, hidden=32, layers=2, init=0.4)
    return noisy_copy(target, 0.1, seed=1), target


PROMPTS = [torch.tensor([3, 1, 4, 1, 5]), torch.tensor([2, 7, 1, 8])]


def test_hf_assisted_equals_target_greedy(pair):
    draft, target = pair
    before = draft.generation_config.to_dict()
    for ids in PROMPTS:
        expected = autoregressive_generate(target, ids, 20).tokens
        assert torch.equal(hf_assisted_generate(draft, target, ids, 20, gamma=3), expected)
    assert draft.generation_config.to_dict() == before  # settings restored


def test_step_times_and_c(pair):
    draft, target = pair
    assert step_time(target, context=16, repeats=5) > 0
    cost = cost_coefficient(draft, target, context=16, repeats=5)
    assert cost["c"] > 0 and math.isfinite(cost["c"])


def test_run_bench(pair):
    draft, target = pair
    config = BenchConfig(max_new_tokens=12, gamma=3, repeats=2, warmup=1, gammas=(1, 3), sweep_repeats=1,
                         c_context=16, c_repeats=5)
    result = run_bench(draft, target, PROMPTS, config)
    decoders = set(config.chosen_decoders())
    assert set(result.summary["decoder"]) == decoders
    assert (result.runs["seconds"] > 0).all()
    assert len(result.runs) == len(decoders) * len(PROMPTS) * config.repeats
    assert result.summary["speedup"].map(math.isfinite).all()
    assert result.summary.set_index("decoder").loc["target", "speedup"] == pytest.approx(1.0)
    assert all(result.outputs_match.values())  # greedy: every decoder prints the target's output
    assert 0 <= result.alpha <= 1
    assert list(result.sweep["gamma"]) == [1, 3]
    assert (result.sweep["predicted_speedup"] > 0).all()
    json.dumps(result.to_dict(), allow_nan=False)


def test_bad_decoder_names():
    with pytest.raises(ValueError, match="unknown decoder"):
        BenchConfig(decoders=("target", "magic")).chosen_decoders()
    with pytest.raises(ValueError, match="needs the 'target'"):
        BenchConfig(decoders=("chain",)).chosen_decoders()


def test_speedup_figure(pair):
    import matplotlib

    matplotlib.use("Agg")
    from specdec_lite.bench import gamma_sweep
    from specdec_lite.plots import speedup_plot

    draft, target = pair
    cost = cost_coefficient(draft, target, context=16, repeats=3)
    sweep = gamma_sweep(draft, target, PROMPTS[:1], (1, 2), cost, max_new_tokens=8, repeats=1, warmup=0)
    assert (sweep["predicted_speedup_verify"] > 0).all() and (sweep["verify_ratio"] > 0).all()
    figure = speedup_plot(sweep)
    assert len(figure.axes[0].lines) >= 3
    matplotlib.pyplot.close(figure)


def test_tree_verify_cost_table():
    from specdec_lite.bench import binary_tree, tree_verify_cost

    assert binary_tree(1).parents.tolist() == [-1]
    assert binary_tree(5).parents.tolist() == [-1, 0, 0, 1, 1]
    target = make_llama(0)
    table = tree_verify_cost(target, sizes=(1, 4), context=8, repeats=2, warmup=1)
    assert table.nodes.tolist() == [1, 4]
    assert (table.verify_ms > 0).all() and (table.ratio > 0).all()
    assert table.attrs["single_step_ms"] > 0


def test_gamma_sweep_at_a_temperature_prices_verification(pair):
    from specdec_lite.bench import gamma_sweep
    from specdec_lite.theory import expected_speedup

    draft, target = pair
    cost = cost_coefficient(draft, target, context=16, repeats=3)
    sweep = gamma_sweep(draft, target, PROMPTS, (2, 3), cost, max_new_tokens=10, repeats=1, warmup=0,
                        temperature=1.0, seed=3)
    assert sweep["gamma"].tolist() == [2, 3]
    assert sweep["alpha"].between(0, 1).all() and (sweep["measured_tokens_per_call"] >= 1).all()
    for row in sweep.itertuples():
        assert row.predicted_speedup_verify == pytest.approx(
            expected_speedup(row.alpha, row.gamma, cost["c"], verify=row.verify_ratio))
        assert row.predicted_speedup == pytest.approx(expected_speedup(row.alpha, row.gamma, cost["c"]))


def test_timed_returns_the_seconds_and_the_result():
    import time

    from specdec_lite.bench import timed

    seconds, out = timed(lambda: (time.sleep(0.02), 7)[1])
    assert out == 7 and 0.02 <= seconds < 1.0
    assert timed(lambda: None, torch.device("cpu"))[1] is None


def test_verify_ratio_alternates_the_two_passes_and_divides_medians(pair, monkeypatch):
    from specdec_lite import bench

    _, target = pair
    fed, real_forward = [], bench.forward

    def counting_forward(model, tokens, cache):
        fed.append(len(tokens))
        return real_forward(model, tokens, cache)

    # a fake clock: a pass over k tokens "takes" (1 + k) ms, so the ratio is known exactly
    monkeypatch.setattr(bench, "forward", counting_forward)
    monkeypatch.setattr(bench, "timed", lambda fn, device="cpu": (lambda out: (0.001 * (1 + fed[-1]), out))(fn()))
    assert bench.verify_ratio(target, 5, context=8, repeats=3, warmup=1) == pytest.approx(6 / 2)
    assert fed == [8, 5, 1, 1, 5, 5, 1, 1, 5]  # prefill, then the two passes in alternating order
    with pytest.raises(ValueError, match="tokens"):
        bench.verify_ratio(target, 0)


def test_jsonable_lives_in_reports_and_bench_still_offers_it():
    from specdec_lite import bench
    from specdec_lite.reports import jsonable

    assert bench.jsonable is jsonable
    value = jsonable({1: (np.int64(2), np.float32(0.5)), "x": [float("nan"), np.inf, "s"]})
    assert value == {"1": [2, 0.5], "x": [None, None, "s"]} and json.dumps(value, allow_nan=False)


def test_step_time_times_each_pass_once_a_round_after_its_warmup(pair, monkeypatch):
    from specdec_lite import bench

    _, target = pair
    clock = iter(range(1, 100))
    monkeypatch.setattr(bench, "timed", lambda fn, device="cpu": (0.001 * next(clock), fn()))
    assert bench.step_time(target, context=8, repeats=3, warmup=2) == pytest.approx(0.004)  # rounds 3-5: 3, 4, 5 ms


def _runs(speedups_by_round):
    """Timed-run rows: per round, a list of one speed-up per prompt over a target at 10 tokens/s."""
    import pandas as pd

    rows = []
    for round_, speedups in enumerate(speedups_by_round):
        for prompt, x in enumerate(speedups):
            rows += [{"round": round_, "prompt": prompt, "decoder": "target", "tokens_per_s": 10.0},
                     {"round": round_, "prompt": prompt, "decoder": "chain", "tokens_per_s": 10.0 * x}]
    return pd.DataFrame(rows)


def test_speedup_figures_take_the_prompt_as_the_unit_and_report_each_round():
    from specdec_lite.bench import prompt_speedups, speedup_figures

    runs = _runs([[1.0, 1.2, 1.4, 0.8], [1.1, 1.2, 1.6, 0.8], [1.0, 1.3, 1.4, 0.7]])
    per_prompt = prompt_speedups(runs, "chain", "target")
    assert per_prompt.round(6).tolist() == [1.0, 1.2, 1.4, 0.8]     # each prompt's median over its rounds
    figures = speedup_figures(runs, "chain", "target")
    assert figures["speedup"] == pytest.approx(1.1)                  # the median of the four prompts
    low, high = figures["speedup_ci"]
    assert 0.8 <= low < 1.1 < high <= 1.4                            # the interval's ends are among the prompts'
    assert figures["speedup_rounds"] == pytest.approx([1.1, 1.15, 1.15])
    # one prompt says nothing about spread: no interval
    assert all(math.isnan(v) for v in speedup_figures(_runs([[1.3]]), "chain", "target")["speedup_ci"])


def test_median_ci_narrows_with_more_units_and_is_seeded():
    from specdec_lite.statistics import median_ci

    rng = np.random.default_rng(1)
    few, many = rng.normal(1.0, 0.1, 6), rng.normal(1.0, 0.1, 200)
    assert median_ci(few) == median_ci(few)
    (a, b), (c, d) = median_ci(few), median_ci(many)
    assert a < np.median(few) < b and c < np.median(many) < d
    assert d - c < (b - a) / 2
