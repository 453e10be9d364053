"""KV-cache bookkeeping after every step, and the decoders' errors for bad input."""

from __future__ import annotations

import pytest
import torch

from specdec_lite import autoregressive_generate, speculative_generate

from conftest import make_llama, noisy_copy


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_cache_lengths_follow_the_sequence(temperature):
    """After each step the target cache holds every token but the newest (which the next step feeds).

    The draft cache holds the same, except after a step that accepted every draft: the last drafted
    token was never fed to the draft, so its cache is one shorter until the next step feeds it. The
    last step may draft nothing (one token left to emit); the draft cache then stays as it was.
    """
    target = make_llama(0)
    draft = noisy_copy(target, 0.3, seed=3)
    prompt = torch.arange(5)[None]
    result = speculative_generate(draft, target, prompt, 50, gamma=3, temperature=temperature, seed=0)
    length, draft_cache = prompt.shape[1], 0
    for step in result.steps:
        length += step.emitted
        assert step.target_cache == length - 1
        if step.drafted == 0:
            assert step.draft_cache == draft_cache
        else:
            assert step.draft_cache == (length - 2 if step.accepted == step.drafted else length - 1)
        draft_cache = step.draft_cache
    assert 0 < result.acceptance_rate < 1  # both branches were exercised
    assert result.target_calls == len(result.steps)
    assert result.draft_calls == sum(s.drafted for s in result.steps)
    assert len(result.nodes) == sum(s.drafted for s in result.steps)


def test_records_are_consistent():
    target = make_llama(0)
    draft = noisy_copy(target, 1.0, seed=3)
    result = speculative_generate(draft, target, torch.arange(5)[None], 40, gamma=4)
    frame = result.nodes_frame()
    assert len(frame) == len(result.nodes)
    per_step = frame.groupby("step")["accepted"].sum().reindex(range(len(result.steps)), fill_value=0)
    assert per_step.tolist() == [s.accepted for s in result.steps]
    assert ((frame.q_prob > 0) & (frame.q_prob <= 1)).all() and (frame.q_entropy >= 0).all()
    assert sum(s.emitted for s in result.steps) == len(result.tokens) == 40
    assert result.wall_time >= sum(s.seconds for s in result.steps) * 0.99


@pytest.fixture(scope="module")
def pair():
    return make_llama(0, vocab=64, context=64), make_llama(1, vocab=64, hidden=16, layers=1, context=64)


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        ({"gamma": 0}, ValueError, "gamma .* must be an integer >= 1"),
        ({"max_new_tokens": 0}, ValueError, "max_new_tokens must be an integer >= 1"),
        ({"temperature": -0.5}, ValueError, "temperature must be >= 0"),
        ({"input_ids": torch.zeros(2, 4, dtype=torch.long)}, ValueError, "batch size 2, but only batch size 1 is supported"),
        ({"input_ids": torch.zeros(1, 60, dtype=torch.long)}, ValueError, "context of 64 tokens"),
        ({"input_ids": torch.zeros(1, 0, dtype=torch.long)}, ValueError, "at least one token"),
        ({"input_ids": [1, 2, 3]}, TypeError, "must be a torch.Tensor"),
    ],
)
def test_bad_input_errors(pair, kwargs, error, message):
    target, draft = pair
    args = {"input_ids": torch.zeros(1, 4, dtype=torch.long), "max_new_tokens": 10, **kwargs}
    with pytest.raises(error, match=message):
        speculative_generate(draft, target, args.pop("input_ids"), args.pop("max_new_tokens"), **args)
    if "gamma" not in kwargs:
        args = {"input_ids": torch.zeros(1, 4, dtype=torch.long), "max_new_tokens": 10, **kwargs}
        with pytest.raises(error, match=message):
            autoregressive_generate(target, args.pop("input_ids"), args.pop("max_new_tokens"), **args)


def test_prompt_longer_than_context_is_rejected(pair):
    target, draft = pair
    with pytest.raises(ValueError, match="the prompt has 70 tokens .* context of 64"):
        speculative_generate(draft, target, torch.zeros(1, 70, dtype=torch.long), 1)


def test_different_vocabularies_are_named():
    target, draft = make_llama(0, vocab=64), make_llama(1, vocab=80)
    with pytest.raises(ValueError, match="vocabulary of 80 tokens and the target 64"):
        speculative_generate(draft, target, torch.zeros(1, 3, dtype=torch.long), 5)


def test_models_on_different_devices_are_rejected():
    target, draft = make_llama(0), make_llama(1).to("meta")
    with pytest.raises(ValueError, match="the draft is on meta and the target on cpu"):
        speculative_generate(draft, target, torch.zeros(1, 3, dtype=torch.long), 5)
