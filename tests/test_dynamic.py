"""Dynamic speculation: a stop rule cuts the draft short, and decoding stays lossless and greedy-exact."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from specdec_lite import autoregressive_generate, speculative_generate, tree_speculative_generate
from specdec_lite.drafters import ModelDrafter
from specdec_lite.dynamic import (ConfidenceStop, EntropyStop, chain_steps, check_stop, first_choice_chains, fit_stop,
                                 replay, stop_rule)
from specdec_lite.lookup import LookupOr, PromptLookup

from conftest import eagle, make_llama, medusa, noisy_copy
from distribution import N_SAMPLES, PROMPT, chi_square_pvalue, exact_continuations, far_models


@pytest.fixture(scope="module")
def far_pair():
    return far_models()


@pytest.fixture(scope="module")
def close_pair():
    target = make_llama(3, vocab=64, hidden=32, layers=2, init=0.6)
    return noisy_copy(target, 0.3, seed=1), target


def _samples(decode, n: int) -> list[tuple[int, ...]]:
    return [tuple(decode(seed).tokens.tolist()) for seed in range(N_SAMPLES)]


def _lengths(result) -> set[int]:
    return {s.drafted for s in result.steps}


@pytest.mark.parametrize("stop", [ConfidenceStop(0.35), EntropyStop(1.2)], ids=["confidence", "entropy"])
def test_dynamic_chain_samples_follow_the_target(far_pair, stop):
    """At temperature 1 the stopped chains' outputs have the target's exact 3-token distribution, not the draft's."""
    draft, target = far_pair
    prompt = torch.tensor([PROMPT])
    decode = lambda s: speculative_generate(draft, target, prompt, 3, gamma=3, temperature=1.0, seed=s, stop=stop)
    assert len(set().union(*(_lengths(decode(s)) for s in range(40)))) > 1, "the rule must cut some chains short"
    samples = _samples(decode, 3)
    assert chi_square_pvalue(samples, exact_continuations(target, PROMPT, 3)) > 0.01
    assert chi_square_pvalue(samples, exact_continuations(draft, PROMPT, 3)) < 1e-6


def test_dynamic_tree_samples_follow_the_target(far_pair):
    """A sampled tree whose unsure branches stop growing is still lossless."""
    draft, target = far_pair
    prompt = torch.tensor([PROMPT])
    samples = _samples(lambda s: tree_speculative_generate(draft, target, prompt, 3, depth=2, branching=2,
                                                           children="sample", temperature=1.0, seed=s,
                                                           stop=ConfidenceStop(0.35)), 3)
    assert chi_square_pvalue(samples, exact_continuations(target, PROMPT, 3)) > 0.01


class DropsTheUnsureToken(ModelDrafter):
    """The tempting mistake: stop, and also withhold the token that failed the rule."""

    def draft(self, sequence, k, temperature, generator, stop=None):
        tokens, logits = super().draft(sequence, k, temperature, generator, stop)
        q = torch.softmax(logits[-1].float(), dim=-1) if tokens else None
        if tokens and not stop.keep_drafting(q, tokens[-1]):
            tokens, logits = tokens[:-1], logits[:-1]
        return tokens, logits


def test_withholding_the_unsure_token_is_caught(far_pair):
    """Power: a rule that drops the unsure token proposes tokens not distributed as q, and the test sees it."""
    draft, target = far_pair
    prompt = torch.tensor([PROMPT])
    samples = _samples(lambda s: speculative_generate(DropsTheUnsureToken(draft), target, prompt, 3, gamma=3,
                                                      temperature=1.0, seed=s, stop=ConfidenceStop(0.5)), 3)
    assert chi_square_pvalue(samples, exact_continuations(target, PROMPT, 3)) < 1e-6


def test_chains_stop_at_the_first_unsure_token(close_pair):
    """Every token of a step but its last passed the rule; the last failed it, or the step reached gamma."""
    draft, target = close_pair
    prompt = torch.tensor([[5, 9, 3, 7]])
    threshold, gamma = 0.6, 5
    result = speculative_generate(draft, target, prompt, 60, gamma=gamma, stop=ConfidenceStop(threshold))
    nodes = result.nodes_frame()
    assert len(_lengths(result)) > 1
    for _, step in nodes.groupby("step"):
        q = step.sort_values("depth")["q_prob"].tolist()
        assert all(x >= threshold for x in q[:-1])
        assert q[-1] < threshold or len(q) == gamma or step["step"].iloc[0] == result.steps[-1].step
    assert result.draft_calls == sum(s.drafted for s in result.steps)  # no draft call past the stop


def test_a_threshold_of_zero_is_the_fixed_chain_and_one_drafts_a_token(close_pair):
    draft, target = close_pair
    prompt = torch.tensor([[5, 9, 3, 7]])
    fixed = speculative_generate(draft, target, prompt, 40, gamma=4)
    never = speculative_generate(draft, target, prompt, 40, gamma=4, stop=ConfidenceStop(0.0))
    assert [s.drafted for s in never.steps] == [s.drafted for s in fixed.steps]
    single = speculative_generate(draft, target, prompt, 40, gamma=4, stop=ConfidenceStop(1.0))
    assert {s.drafted for s in single.steps[:-1]} == {1}  # the last step has no room to draft


@pytest.mark.parametrize("make", ["model", "eagle", "medusa", "lookup_or"])
def test_dynamic_greedy_output_is_the_targets(close_pair, make):
    draft, target = close_pair
    drafter = {"model": lambda: draft, "eagle": lambda: eagle(target), "medusa": lambda: medusa(target),
               "lookup_or": lambda: LookupOr(PromptLookup(target.config.vocab_size), draft)}[make]()
    for prompt in ([5, 9, 3, 7], [1, 2, 1, 2, 1, 2, 8]):
        ids = torch.tensor([prompt])
        expected = autoregressive_generate(target, ids, 40).tokens.tolist()
        for stop in (ConfidenceStop(0.5), EntropyStop(1.0)):
            assert speculative_generate(drafter, target, ids, 40, gamma=5, stop=stop).tokens.tolist() == expected
            if make != "lookup_or":
                tree = tree_speculative_generate(drafter, target, ids, 40, depth=4, branching=2, budget=8, stop=stop)
                assert tree.tokens.tolist() == expected


def test_a_stopped_tree_grows_fewer_nodes(close_pair):
    draft, target = close_pair
    ids = torch.tensor([[5, 9, 3, 7]])
    full = tree_speculative_generate(draft, target, ids, 30, depth=3, branching=2)
    stopped = tree_speculative_generate(draft, target, ids, 30, depth=3, branching=2, stop=ConfidenceStop(0.9))
    assert sum(s.drafted for s in stopped.steps) / len(stopped.steps) < sum(s.drafted for s in full.steps) / len(
        full.steps)


def test_a_bad_stop_rule_is_refused_with_what_to_pass(close_pair):
    draft, target = close_pair
    with pytest.raises(TypeError, match=r"ConfidenceStop\(0.4\)"):
        speculative_generate(draft, target, torch.tensor([[1, 2]]), 4, stop=0.4)
    with pytest.raises(ValueError, match="probability"):
        ConfidenceStop(1.5)
    with pytest.raises(ValueError, match="nats"):
        EntropyStop(-1)
    assert check_stop(None) is None


def _steps() -> pd.DataFrame:
    """Three recorded chains of 3 tokens: their q(x) and how many the target accepted."""
    nodes = pd.DataFrame([
        {"step": s, "depth": d + 1, "q_prob": q, "q_entropy": 1 - q, "accepted": d < a}
        for s, (qs, a) in enumerate([([0.9, 0.8, 0.2], 3), ([0.9, 0.3, 0.9], 1), ([0.2, 0.9, 0.9], 0)])
        for d, q in enumerate(qs)])
    return chain_steps(nodes)


def test_replay_by_hand():
    """A threshold of 0.5 cuts the chains after 3, 2 and 1 tokens: (3+1) + (1+1) + (0+1) = 7 tokens, for
    3 + 2 + 1 draft steps at c = 0.1 and verifications v(3), v(2), v(1)."""
    steps = _steps()
    assert steps["accepted"].tolist() == [3, 1, 0]
    cost, verify = {1: 0.1, 2: 0.2, 3: 0.3}, {1: 1.5, 2: 1.7, 3: 1.9}
    got = replay(steps, "confidence", 0.5, 3, cost, verify)
    assert got["speedup"] == pytest.approx(7 / (0.6 + 1.9 + 1.7 + 1.5))
    assert got["mean_drafted"] == pytest.approx(2.0)
    fixed = replay(steps, "confidence", 0.0, 3, cost, verify)
    assert fixed["speedup"] == pytest.approx(7 / (0.9 + 3 * 1.9))
    entropy = replay(steps, "entropy", 0.5, 3, cost, verify)  # the same cuts: H > 0.5 where q < 0.5
    assert entropy["speedup"] == pytest.approx(got["speedup"])


def test_fit_stop_finds_the_best_replayed_rule():
    steps = _steps()
    cost, verify = {1: 0.1, 2: 0.2, 3: 0.3}, {1: 1.5, 2: 1.7, 3: 1.9}
    fitted = fit_stop(steps, cost, verify, fixed_gamma=3)
    every = [replay(steps, r, lv, g, cost, verify)["speedup"] for r in ("confidence", "entropy")
             for lv in (0.0, 0.1, 0.2, 0.3, 0.5, 0.8, 0.85, 0.9, 1.0) for g in (1, 2, 3)]
    assert fitted.predicted["speedup"] == pytest.approx(max(every))
    assert fitted.predicted["speedup"] >= fitted.fixed["speedup"]
    assert isinstance(stop_rule(fitted.rule, fitted.level), (ConfidenceStop, EntropyStop))
    with pytest.raises(ValueError, match="unknown stop rule"):
        stop_rule("patience", 1.0)


def test_auto_refuses_an_unknown_domain_and_names_the_command_for_a_missing_result():
    from types import SimpleNamespace

    from specdec_lite.policy import auto_choice

    with pytest.raises(ValueError, match="unknown domain 'poetry'"):
        auto_choice(SimpleNamespace(name="smol"), "poetry")
    with pytest.raises(FileNotFoundError, match="tools/compare_dynamic.py"):
        auto_choice(SimpleNamespace(name="tiny"))


@pytest.mark.slow
def test_auto_decodes_the_smol_pair_with_the_committed_choices(capsys):
    """With a domain, the committed policy's drafter and gamma; without, lookup-or-draft and the fitted rule;
    greedy output the target's own either way, also through the command line."""
    import json

    from specdec_lite import load_pair
    from specdec_lite.cli import main
    from specdec_lite.course import results_path

    from specdec_lite.policy import auto_choice

    pair = load_pair("smol", device="cpu")
    policies = json.loads(results_path("policies", "smol_features.json").read_text())["result"]["policies"]
    rule = json.loads(results_path("dynamic", "smol.json").read_text())["fit"]["rules"]["draft"]
    ids = pair.encode("Write a Python function that returns the squares of a list of numbers.")
    expected = autoregressive_generate(pair.target, ids, 16, eos_token_id=pair.eos_token_id).tokens.tolist()
    for domain in ("code", "chat", None):
        choice = auto_choice(pair, domain)
        if domain:
            assert [choice.name, choice.gamma] == policies["domain_drafter"][domain] and choice.stop is None
        else:
            assert choice.name == "lookup_draft" and isinstance(choice.drafter, LookupOr)
            assert choice.gamma == rule["max_gamma"] and choice.stop.__class__.__name__.lower().startswith(rule["rule"])
        assert choice.generate(pair, ids, 16).tokens.tolist() == expected
    assert main(["generate", "--prompt", "Write a Python function that returns the squares of a list of numbers.",
                 "--drafter", "auto", "--max-new-tokens", "16", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tokens"] == expected and report["drafter"].startswith("lookup_draft")
    # without gamma the smol pair's draft drafts by its committed rule, in the library and on the command line
    default = speculative_generate(pair.draft, pair.target, ids, 16, eos_token_id=pair.eos_token_id)
    fitted = speculative_generate(pair.draft, pair.target, ids, 16, eos_token_id=pair.eos_token_id,
                                  gamma=rule["max_gamma"], stop=stop_rule(rule["rule"], rule["level"]))
    assert _trace(default) == _trace(fitted) and default.tokens.tolist() == expected
    assert main(["generate", "--prompt", "Write a Python function that returns the squares of a list of numbers.",
                 "--max-new-tokens", "16", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tokens"] == expected and report["drafter"].startswith(f"draft (gamma {rule['max_gamma']}, stop")
    assert "results/dynamic/smol.json" in report["drafter"]


def test_first_choice_chains_follow_the_first_choices_of_a_greedy_tree(close_pair):
    """The first-choice path of a greedy top-k tree is the draft's greedy chain, accepted as the chain would be."""
    _, target = close_pair
    draft = noisy_copy(target, 0.05, seed=3)   # close enough that first choices are often accepted
    ids = torch.tensor([[5, 9, 3, 7]])
    tree = tree_speculative_generate(draft, target, ids, 30, depth=3, branching=2)
    chains = first_choice_chains(tree.nodes_frame())
    steps = chain_steps(chains)
    drafted = [s for s in tree.steps if s.drafted]   # the last step may have no room to draft
    assert len(steps) == len(drafted) and steps["q_prob"].map(len).max() == 3
    assert steps["accepted"].max() >= 2, "the check needs chains the target accepts in part"
    sequence = ids[0].tolist()
    for record, step in zip(steps.itertuples(), drafted):
        tokens = chains[chains["step"] == step.step].sort_values("depth")["token"].tolist()
        greedy, _ = ModelDrafter(draft).draft(sequence, len(tokens), 0.0, torch.Generator())
        chain = speculative_generate(draft, target, torch.tensor(sequence), len(tokens) + 1, gamma=len(tokens))
        assert tokens == greedy
        assert record.accepted == chain.steps[0].accepted
        sequence += tree.tokens[len(sequence) - 4: len(sequence) - 4 + step.emitted].tolist()


def _trace(result) -> tuple[list[tuple[int, int]], list[int]]:
    return [(s.drafted, s.accepted) for s in result.steps], result.tokens.tolist()


def test_without_gamma_a_course_pair_drafts_by_its_committed_rule(tmp_path, monkeypatch):
    """No gamma: the shipped pair's draft follows results/dynamic/<pair>.json's fitted rule where the course has one,
    and drafts a fixed 4 a step where it has none, as any other drafter or pairing always does."""
    import json

    from specdec_lite import load_pair
    from specdec_lite.dynamic import DEFAULT_GAMMA, default_chain

    pair = load_pair("tiny")
    ids = pair.encode("the cat sat on the mat and the dog sat on the log")
    monkeypatch.setenv("SPECDEC_COURSE_DIR", str(tmp_path))
    (tmp_path / "results" / "dynamic").mkdir(parents=True)
    assert default_chain(pair.draft, pair.target) == (DEFAULT_GAMMA, None)
    fixed = speculative_generate(pair.draft, pair.target, ids, 40)
    assert _trace(fixed) == _trace(speculative_generate(pair.draft, pair.target, ids, 40, gamma=DEFAULT_GAMMA))

    level = float(fixed.nodes_frame()["q_prob"].median())   # a threshold some drafted tokens fall below
    fit = {"fit": {"rules": {"draft": {"rule": "confidence", "level": level, "max_gamma": 3}}}}
    (tmp_path / "results" / "dynamic" / "tiny.json").write_text(json.dumps(fit))
    assert default_chain(pair.draft, pair.target) == (3, ConfidenceStop(level))
    dynamic = speculative_generate(pair.draft, pair.target, ids, 40)
    assert _trace(dynamic) == _trace(speculative_generate(pair.draft, pair.target, ids, 40, gamma=3,
                                                          stop=ConfidenceStop(level)))
    assert _trace(dynamic)[0] != _trace(fixed)[0] and max(_lengths(dynamic)) <= 3
    assert dynamic.tokens.tolist() == fixed.tokens.tolist()   # greedy either way: the target's own output
    # the fit belongs to that draft before that target: any other drafter, or the pair swapped, keeps the fixed 4
    assert default_chain(PromptLookup(vocab_size=pair.target.config.vocab_size), pair.target) == (DEFAULT_GAMMA, None)
    assert default_chain(pair.target, pair.draft) == (DEFAULT_GAMMA, None)
    assert default_chain(make_llama(3, vocab=pair.target.config.vocab_size), pair.target) == (DEFAULT_GAMMA, None)
