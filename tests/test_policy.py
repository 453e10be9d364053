"""Domain-aware speculation policies: the split, the prediction and the choice, and one fit-and-measure run on a random pair."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from specdec_lite.policy import PolicyResult, choose, fit_and_measure, predicted_speedup, split_prompts
from specdec_lite.prompts import DOMAINS
from specdec_lite.theory import expected_tokens_per_call

from conftest import eagle, make_llama, medusa, noisy_copy


def _prompts(per_domain=4, vocab=64):
    g = torch.Generator().manual_seed(0)
    return [SimpleNamespace(id=f"{d}-{i}", domain=d, prompt=torch.randint(vocab, (6,), generator=g).tolist())
            for d in DOMAINS for i in range(per_domain)]


def test_split_is_half_of_each_domain_disjoint_and_seeded():
    prompts = _prompts(per_domain=5)
    fit, held_out = split_prompts(prompts, seed=3)
    assert {p.id for p in fit}.isdisjoint(p.id for p in held_out)
    assert len(fit) + len(held_out) == len(prompts)
    for d in DOMAINS:
        assert sum(p.domain == d for p in fit) == 2 and sum(p.domain == d for p in held_out) == 3
    assert [p.id for p in split_prompts(prompts, seed=3)[0]] == [p.id for p in fit]


def test_predicted_speedup_prices_verification():
    # with verification priced like one step this is Leviathan et al.'s formula
    alpha, gamma, c = 0.7, 4, 0.1
    assert predicted_speedup(alpha, gamma, c, 1.0, 1.0) == pytest.approx(
        expected_tokens_per_call(alpha, gamma) / (gamma * c + 1))
    assert predicted_speedup(alpha, gamma, c, 1.0, 1.6) < predicted_speedup(alpha, gamma, c, 1.0, 1.0)


def test_choose_prefers_long_drafts_only_where_acceptance_is_high():
    alphas = pd.DataFrame([{"domain": "chat", "drafter": "draft", "alpha": 0.9},
                           {"domain": "math", "drafter": "draft", "alpha": 0.3}])
    costs, verify = {"target": 1.0, "draft": 0.1}, {g: 1.0 + 0.1 * g for g in range(1, 9)}
    table = choose(alphas, costs, verify, tuple(range(1, 9)))
    best = table.loc[table.groupby("domain")["predicted_speedup"].idxmax()].set_index("domain")["gamma"]
    assert best["chat"] > best["math"]


def _pair(vocab=64):
    target = make_llama(0, vocab=vocab, hidden=32, layers=2, init=0.4)
    draft = noisy_copy(target, 0.3, seed=1)
    return SimpleNamespace(draft=draft, target=target, eos_token_id=None,
                           encode=lambda ids: torch.tensor(ids, dtype=torch.long))


@pytest.mark.slow
def test_fit_and_measure_runs_and_keeps_outputs_exact():
    pair = _pair()
    result = fit_and_measure(pair, _prompts(per_domain=2), gammas=(1, 2, 4), max_new_tokens=12)
    assert set(result.policies) == {"fixed", "domain_gamma", "domain_drafter"}
    assert list(result.summary["domain"]) == [*DOMAINS, "all"]
    assert (result.summary["fixed_speedup"] > 0).all()
    # each figure with its interval over prompts (one held-out prompt per domain has none; all four pooled have
    # one) and its value in each round (one round here)
    pooled = result.summary.set_index("domain").loc["all"]
    assert pooled["fixed_ci_low"] <= pooled["fixed_ci_high"]
    assert all(len(rounds) == 1 for rounds in result.summary["fixed_rounds"])
    assert set(result.alphas["drafter"]) == {"draft", "lookup"}
    # what tools/run_policies.py commits must come back as it was
    back = PolicyResult.from_dict(json.loads(json.dumps(result.to_dict(), allow_nan=False)))
    assert back.policies == result.policies
    assert back.costs["verify"].keys() == result.costs["verify"].keys()
    pd.testing.assert_frame_equal(back.summary, result.summary, check_dtype=False)


def test_a_drafter_priced_by_its_measured_chain_is_chosen_only_where_it_can_draft():
    """A dict of chain times lists the gammas a drafter can draft (Medusa: one per head), and prices each."""
    alphas = pd.DataFrame([{"domain": "chat", "drafter": "heads", "alpha": 0.9},
                           {"domain": "chat", "drafter": "draft", "alpha": 0.9}])
    costs = {"target": 1.0, "draft": 0.1, "heads": {1: 0.05, 2: 0.05}}
    table = choose(alphas, costs, {g: 1.0 for g in range(1, 5)}, (1, 2, 3, 4))
    assert sorted(table[table["drafter"] == "heads"]["gamma"]) == [1, 2]
    heads = table[(table["drafter"] == "heads") & (table["gamma"] == 2)]["predicted_speedup"].item()
    assert heads == pytest.approx(expected_tokens_per_call(0.9, 2) / (0.05 + 1.0))


@pytest.mark.slow
def test_fit_and_measure_chooses_among_feature_drafters_too():
    pair = _pair()
    others = {"medusa": medusa(pair.target, heads=2), "eagle": eagle(pair.target)}
    result = fit_and_measure(pair, _prompts(per_domain=2), gammas=(1, 2, 3), max_new_tokens=12, others=others)
    assert set(result.alphas["drafter"]) == {"draft", "lookup", "medusa", "eagle"}
    assert sorted(result.costs["medusa"]) == [1, 2] and sorted(result.costs["eagle"]) == [1, 2, 3]
    back = PolicyResult.from_dict(json.loads(json.dumps(result.to_dict(), allow_nan=False)))
    assert back.costs["medusa"].keys() == result.costs["medusa"].keys()
