"""The notebook-only helpers of lessons 3 and 4 (``specdec_lite.course``, section "Lessons 3 and 4")."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from specdec_lite.course import chi_square_test, format_pvalue, random_parents
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


# --- Lessons 7 and 8 (``specdec_lite.course``, section "Lessons 7 and 8") ---

import pandas as pd  # noqa: E402

from specdec_lite.course import ranked, simulated_study  # noqa: E402
from specdec_lite.results import NodeRecord, StepRecord  # noqa: E402
from specdec_lite.study import level_outcomes  # noqa: E402
from specdec_lite.theory import nodes_tested  # noqa: E402


def test_simulated_study_has_the_study_tables_columns():
    nodes, steps = simulated_study({"code": 0.5, "chat": 0.6}, prompts=2, steps=3)
    node_fields = [f for f in NodeRecord.__dataclass_fields__ if f != "step"]
    assert list(nodes.columns) == ["prompt_id", "domain", "step", "node", *node_fields, "tested"]
    assert list(steps.columns) == ["prompt_id", "domain", *StepRecord.__dataclass_fields__]
    assert sorted(set(nodes["domain"])) == ["chat", "code"] and nodes["prompt_id"].nunique() == 4
    assert len(steps) == 12


def test_simulated_study_follows_greedy_tree_rules():
    nodes, steps = simulated_study({"code": 0.9, "math": [0.8, 0.5, 0.2], "logic": 0.0, "chat": 1.0}, prompts=3,
                                   steps=30, short_steps=0.3, seed=5)
    assert (nodes_tested(nodes, group=("prompt_id", "step")).to_numpy() == nodes["tested"].to_numpy()).all()
    for _, step in nodes.groupby(["prompt_id", "step"]):
        accepted = step["accepted"].to_numpy()
        parents = step["parent"].to_numpy()
        assert all(parents[k] < 0 or accepted[parents[k]] for k in np.flatnonzero(accepted))
        assert all(accepted[parents == p].sum() <= 1 for p in set(parents))
    per_step = nodes.groupby(["prompt_id", "step"], sort=False)["accepted"].sum().to_numpy()
    assert (per_step == steps["accepted"].to_numpy()).all()
    assert (steps["drafted"] == nodes.groupby(["prompt_id", "step"], sort=False).size().to_numpy()).all()
    assert not nodes.loc[nodes["domain"] == "logic", "accepted"].any()
    chat = steps[steps["domain"] == "chat"]
    full = nodes[nodes["domain"] == "chat"].groupby(["prompt_id", "step"], sort=False)["depth"].max().to_numpy()
    assert (chat["accepted"].to_numpy() == full).all()  # rate 1: the path goes as deep as the step drafted
    assert (full < 3).any()  # some steps drafted fewer levels


def test_simulated_study_recovers_its_rates_and_is_seeded():
    rates = {"code": 0.6, "math": [0.8, 0.5, 0.3]}
    nodes, _ = simulated_study(rates, prompts=20, steps=100, short_steps=0.0, seed=2)
    by_depth = level_outcomes(nodes).groupby(["domain", "depth"])["accepted"].mean()
    for domain, rate in rates.items():
        expected = [rate] * 3 if np.ndim(rate) == 0 else rate
        assert by_depth[domain].to_numpy() == pytest.approx(expected, abs=0.06)
    r = np.corrcoef(nodes["q_entropy"], nodes["accepted"])[0, 1]
    assert r < -0.05
    again, _ = simulated_study(rates, prompts=20, steps=100, short_steps=0.0, seed=2)
    pd.testing.assert_frame_equal(nodes, again)
    other, _ = simulated_study(rates, prompts=20, steps=100, short_steps=0.0, seed=3)
    assert not nodes["accepted"].equals(other["accepted"])


def test_simulated_study_rejects_bad_rates():
    with pytest.raises(ValueError, match="domains from"):
        simulated_study({"poetry": 0.5})
    with pytest.raises(ValueError, match="one per depth"):
        simulated_study({"code": [0.5, 0.5]})
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        simulated_study({"code": 1.5})


def test_ranked():
    assert ranked({"code": 0.7, "chat": 0.61234}) == "code 0.700 > chat 0.612"
    assert ranked(pd.Series({"a": 0.5, "b": 0.9, "c": 0.5}), digits=1) == "b 0.9 > a 0.5 = c 0.5"
    assert ranked({}) == ""


def test_committed_study_reads_back_what_the_cli_writes(tmp_path):
    import json

    from specdec_lite.course import committed_study
    from specdec_lite.study import StudyConfig, StudyResult, save_frame, study_report

    nodes, steps = simulated_study({"code": 0.6, "chat": 0.5}, prompts=2, steps=5)
    written = StudyResult(StudyConfig(domains=("code", "chat"), max_new_tokens=20), nodes, steps, 1.5, "cpu")
    save_frame(nodes, tmp_path / "nodes.csv.gz")
    save_frame(steps, tmp_path / "steps.csv.gz")
    (tmp_path / "study.json").write_text(json.dumps(study_report(written)))
    result, report = committed_study(tmp_path)
    assert result.config == written.config and result.seconds == 1.5 and report["kind"] == "study"
    pd.testing.assert_frame_equal(result.nodes, nodes, check_dtype=False)
    pd.testing.assert_frame_equal(result.steps, steps, check_dtype=False)
    (tmp_path / "steps.csv.gz").unlink()
    with pytest.raises(FileNotFoundError, match="exactly one steps.csv"):
        committed_study(tmp_path)



def test_study_command_reruns_the_reported_configuration():
    from dataclasses import asdict

    from specdec_lite.cli import build_parser
    from specdec_lite.course import study_command
    from specdec_lite.study import StudyConfig

    for config in (StudyConfig(prompts_per_domain=25), StudyConfig(mode="chain", gamma=5, domains=("math", "chat"),
                                                                     max_new_tokens=32, budget=None, seed=3)):
        command = study_command({"pair": "smol", "config": asdict(config)}, "results/study/smol")
        assert command[:2] == ["specdec-lite", "study"]
        args = build_parser().parse_args(command[1:])
        assert (args.pair, args.mode, args.max_new_tokens, args.seed, args.per_domain) == (
            "smol", config.mode, config.max_new_tokens, config.seed, config.prompts_per_domain)
        assert (args.depth, args.branching) == (config.depth, config.branching) or config.mode == "chain"
        assert args.gamma == config.gamma or config.mode == "tree"
        assert tuple(args.domain or config.domains) == config.domains and args.json and args.plots
        assert str(args.out) == "results/study/smol" and args.format == "csv.gz"
    with pytest.raises(ValueError, match="names no pair"):
        study_command({"config": asdict(StudyConfig())}, "out")

# --- Lessons 5 and 6 (specdec_lite.course, section "Lessons 5 and 6") ---


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
    from specdec_lite.course import format_bytes

    assert format_bytes(0) == "0 B" and format_bytes(1023) == "1023 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(5_598_720) == "5.34 MiB"
    assert format_bytes(1 << 30) == "1 GiB" and format_bytes(13_476_831_360) == "12.6 GiB"


def test_speedup_page_shows_the_chosen_cell():
    from specdec_lite.course import speedup_page

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
    from specdec_lite.course import speedup_explorer

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
    from specdec_lite.course import gpu_run

    bench = gpu_run("smol_bench.json")["bench_smol"]
    assert bench["kind"] == "bench" and 0 < bench["cost"]["c"] < 1
    with pytest.raises(FileNotFoundError, match="docs/gpu_runs"):
        gpu_run("no_such_run.json")



# --- Hidden-test helpers: nb.forbidden / nb.own, nb.close, nb.int_list ----------------------------------

def test_forbidden_fails_an_answer_that_delegates_under_any_name_and_restores_the_reference():
    from specdec_lite import course as nb
    from specdec_lite import sampling
    from specdec_lite.sampling import residual as renamed

    p, q = torch.tensor([0.5, 0.5]), torch.tensor([0.9, 0.1])

    def delegating(p, q):
        return renamed(p, q)

    def own_code(p, q):
        gap = (p - q).clamp(min=0)
        return gap / gap.sum()

    with pytest.raises(AssertionError, match="specdec_lite.sampling.residual"):
        nb.own(delegating, sampling.residual)(p, q)
    assert torch.allclose(nb.own(own_code, sampling.residual)(p, q), sampling.residual(p, q))
    assert torch.allclose(renamed(p, q), torch.tensor([0.0, 1.0]))  # restored after the failure


def test_forbidden_catches_calls_through_other_library_functions_and_swallowed_errors():
    from specdec_lite import course as nb
    from specdec_lite import sampling

    def through_accept():
        return sampling.accept(0.2, 0.4, torch.Generator().manual_seed(0))  # accept calls acceptance_probability

    def swallowing():
        try:
            return sampling.acceptance_probability(0.2, 0.4)
        except Exception:  # noqa: BLE001  (what a learner might write)
            return 0.5

    for answer in (through_accept, swallowing):
        with pytest.raises(AssertionError, match="your own code"):
            nb.own(answer, sampling.acceptance_probability)()
    assert float(sampling.acceptance_probability(0.2, 0.4)) == pytest.approx(0.5)


def test_forbidden_handles_properties_methods_and_closures():
    from specdec_lite import course as nb

    tree = TokenTree(torch.tensor([-1, 0, 0]))

    def closure_maker():
        offset = 1

        def add(x):
            return x + offset

        return add

    add = closure_maker()
    with pytest.raises(AssertionError):
        nb.own(lambda: tree.ancestors, TokenTree.ancestors)()
    with pytest.raises(AssertionError):
        nb.own(lambda: tree.position_ids(3), TokenTree.position_ids)()
    with pytest.raises(AssertionError):
        nb.own(lambda: add(1), add)()
    assert tree.position_ids(3).tolist() == [3, 4, 4] and add(1) == 2 and bool(tree.ancestors[2, 0])


def test_close_compares_any_float_dtype_and_sequence_in_float64():
    from specdec_lite import course as nb

    assert nb.close(torch.tensor([0.5, 1 / 3], dtype=torch.float32), np.array([0.5, 1 / 3]))
    assert nb.close((0.5, 0.25), torch.tensor([0.5, 0.25], dtype=torch.float64))
    assert nb.close(np.float64(0.1), 0.1) and nb.close(float("nan"), np.nan)
    assert not nb.close([0.5, 0.25], [0.5, 0.26]) and not nb.close([1.0, 2.0], [1.0, 2.0, 3.0])
    assert not nb.close("not a number", [1.0])


def test_int_list_accepts_lists_tuples_arrays_and_tensors_of_whole_numbers_only():
    from specdec_lite import course as nb

    assert nb.int_list((1, 2)) == [1, 2] == nb.int_list(np.array([1, 2])) == nb.int_list(torch.tensor([1, 2]))
    assert nb.int_list([]) == []
    assert nb.int_list([1.0, 2.0]) is None and nb.int_list([True]) is None and nb.int_list(5) is None


def test_course_dir_is_found_from_the_working_directory_or_the_environment(tmp_path, monkeypatch):
    """The committed results live in the course's folder, not the package: found above the working directory
    (a lesson runs in lessons/<lesson>/), or named by SPECDEC_COURSE_DIR; elsewhere the error says what to do."""
    from pathlib import Path

    from specdec_lite import course as nb

    root = Path(__file__).resolve().parents[1]
    monkeypatch.delenv("SPECDEC_COURSE_DIR", raising=False)
    monkeypatch.chdir(root / "lessons" / "05_measuring_speedup")
    assert nb.course_dir() == root
    assert nb.results_path("study", "smol", "study.json") == root / "results" / "study" / "smol" / "study.json"
    monkeypatch.chdir(tmp_path)
    assert nb.course_dir() == root  # outside the clone: the clone this (editable) package sits in
    from specdec_lite.course import committed

    monkeypatch.setattr(committed, "__file__", str(tmp_path / "site" / "specdec_lite" / "course" / "committed.py"))
    with pytest.raises(FileNotFoundError, match="SPECDEC_COURSE_DIR"):  # as if installed from a wheel
        nb.results_path("study", "smol", "study.json")
    monkeypatch.setenv("SPECDEC_COURSE_DIR", str(root))
    assert nb.gpu_run("smol_bench.json")
    monkeypatch.setenv("SPECDEC_COURSE_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="has no results/ folder"):
        nb.course_dir()


def test_recorded_runs_read_back_whole_generations():
    """Lesson 2's recorded speculative runs: every step and node record, consistent with the tokens."""
    from specdec_lite import course as nb

    report, recorded = nb.recorded_runs("02_draft_and_verify")
    assert report["command"].startswith("python tools/lesson_runs.py") and report["machine"]["cpus"] >= 1
    assert [len(runs) for runs in recorded.values()] == [1, 4]
    for question, result in (run for runs in recorded.values() for run in runs):
        assert isinstance(question, str) and result.tokens.dtype == torch.long
        assert sum(s.emitted for s in result.steps) == len(result.tokens) and result.target_calls == len(result.steps)
        assert len(result.nodes) == sum(s.drafted for s in result.steps)
        assert [n.token for n in result.nodes if n.accepted] == [
            t for s, start in zip(result.steps, _starts(result.steps)) for t in result.tokens[start:start + s.accepted].tolist()]


def _starts(steps):
    start = 0
    for step in steps:
        yield start
        start += step.emitted


# --- Lesson 9: a learner's function as a drafter, and any drafter's proposal -------------------------------------

def _library_propose(sequence, k, max_ngram, min_ngram):
    from specdec_lite.lookup import PromptLookup

    return PromptLookup(10**6, max_ngram, min_ngram).propose(sequence, k)


def test_lookup_drafter_decodes_with_the_learners_proposals():
    from conftest import make_llama

    from specdec_lite import autoregressive_generate, speculative_generate
    from specdec_lite.course import lookup_drafter
    from specdec_lite.lookup import PromptLookup

    target = make_llama(vocab=40, hidden=32, layers=2, seed=3)
    prompt = torch.tensor([5, 6, 7, 8, 5, 6, 7, 8, 5, 6])
    called = []

    def propose(sequence, k, max_ngram, min_ngram):
        called.append((len(sequence), k, max_ngram, min_ngram))
        return _library_propose(sequence, k, max_ngram, min_ngram)

    yours = speculative_generate(lookup_drafter(propose, 40, max_ngram=2), target, prompt, 24, gamma=4)
    library = speculative_generate(PromptLookup(40, max_ngram=2), target, prompt, 24, gamma=4)
    assert called and all(m == 2 and n == 1 for _, _, m, n in called)
    assert torch.equal(yours.tokens, library.tokens) and [s.accepted for s in yours.steps] == [s.accepted for s in library.steps]
    assert torch.equal(yours.tokens, autoregressive_generate(target, prompt, 24).tokens)


def test_lookup_drafter_explains_a_bad_function():
    from specdec_lite.course import lookup_drafter

    with pytest.raises(TypeError, match="propose must be a function"):
        lookup_drafter([1, 2], 40)
    too_many = lookup_drafter(lambda sequence, k, a, b: list(range(k + 1)), 40)
    with pytest.raises(ValueError, match="at most k ids"):
        too_many.propose([1, 2, 3], 2)
    outside = lookup_drafter(lambda sequence, k, a, b: [99], 40)
    with pytest.raises(ValueError, match="vocabulary of 40"):
        outside.propose([1, 2, 3], 2)


@pytest.mark.parametrize("kind", ["draft", "lookup", "medusa", "eagle"])
def test_proposal_is_what_the_first_decoding_step_drafts(kind):
    import conftest
    from conftest import make_llama

    from specdec_lite import speculative_generate
    from specdec_lite.course import proposal
    from specdec_lite.lookup import PromptLookup

    target = make_llama(vocab=40, hidden=32, layers=2, seed=4)
    drafter = {"draft": lambda: make_llama(vocab=40, hidden=16, layers=1, seed=5),
               "lookup": lambda: PromptLookup(40),
               "medusa": lambda: conftest.medusa(target),
               "eagle": lambda: conftest.eagle(target)}[kind]()
    prompt = [3, 9, 4, 1, 3, 9, 4, 1, 3, 9]
    # a feature drafter drafts nothing before the target has handed it features: compare its second step
    step = 1 if getattr(drafter, "wants_features", False) else 0
    result = speculative_generate(drafter, target, torch.tensor(prompt), 12, gamma=3)
    before = prompt + result.tokens[: sum(s.emitted for s in result.steps[:step])].tolist()
    drafted = [n.token for n in result.nodes if n.step == step]
    assert drafted and proposal(drafter, target, before, 3) == drafted
    with pytest.raises(ValueError, match="at least 2 tokens"):
        proposal(drafter, target, [3], 3)


def _reference_stop_rule(next_q, sample, max_gamma, threshold):
    tokens = []
    while len(tokens) < max_gamma:
        q = next_q(tokens)
        tokens.append(sample(q))
        if float(q[tokens[-1]]) < threshold:
            break
    return tokens


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_stop_rule_drafter_decodes_as_the_librarys_rule(temperature):
    """The learner's rule, run as a drafting loop, drafts exactly what the library's ConfidenceStop drafts."""
    from conftest import make_llama, noisy_copy

    from specdec_lite import speculative_generate
    from specdec_lite.course import stop_rule_drafter
    from specdec_lite.dynamic import ConfidenceStop

    target = make_llama(vocab=40, hidden=32, layers=2, seed=3, init=0.6)
    draft = noisy_copy(target, 0.3, seed=2)
    prompt = torch.tensor([5, 6, 7, 8, 5, 6])
    yours = speculative_generate(stop_rule_drafter(draft, _reference_stop_rule, 0.6), target, prompt, 30, gamma=5,
                                 temperature=temperature, seed=4)
    library = speculative_generate(draft, target, prompt, 30, gamma=5, temperature=temperature, seed=4,
                                   stop=ConfidenceStop(0.6))
    assert torch.equal(yours.tokens, library.tokens)
    assert [s.drafted for s in yours.steps] == [s.drafted for s in library.steps]
    assert len({s.drafted for s in yours.steps[:-1]}) > 1


def test_stop_rule_drafter_explains_a_rule_that_drafts_without_calling_the_draft():
    from conftest import make_llama

    from specdec_lite import speculative_generate
    from specdec_lite.course import stop_rule_drafter

    target = make_llama(vocab=40, hidden=32, layers=2, seed=3)
    with pytest.raises(ValueError, match="once per token"):
        speculative_generate(stop_rule_drafter(target, lambda next_q, sample, g, t: [1, 2], 0.5), target,
                             torch.tensor([5, 6, 7]), 8, gamma=4)
    with pytest.raises(TypeError, match="rule must be a function"):
        stop_rule_drafter(target, 0.5, 0.5)
