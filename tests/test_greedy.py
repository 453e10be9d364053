"""Greedy exactness: at temperature 0 both decoders return token for token what ``target.generate`` returns."""

from __future__ import annotations

import pytest
import torch

from specdec_lite import autoregressive_generate, speculative_generate

from conftest import make_llama, noisy_copy

TARGETS = {  # name: (seed, vocab, layers)
    "v64-2L": (0, 64, 2),
    "v200-3L": (1, 200, 3),
    "v97-1L": (2, 97, 1),
}


def _drafts(target, vocab: int) -> dict:
    return {
        "same": target,
        "noisy": noisy_copy(target, 0.5, seed=7),
        "unrelated": make_llama(99, vocab=vocab, hidden=16, layers=1),
    }


def _prompt(vocab: int, length: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, vocab, (1, length), generator=torch.Generator().manual_seed(seed))


def _case(target_name: str):
    """A target, a prompt and the target's own greedy continuation of 40 tokens."""
    seed, vocab, layers = TARGETS[target_name]
    target = make_llama(seed, vocab=vocab, layers=layers)
    prompt = _prompt(vocab, seed=seed)
    expected = target.generate(prompt, max_new_tokens=40, do_sample=False)[0, prompt.shape[1]:]
    return target, vocab, prompt, expected


@pytest.mark.parametrize("target_name", TARGETS)
def test_speculative_greedy_equals_generate(target_name):
    target, vocab, prompt, expected = _case(target_name)
    for draft_name, draft in _drafts(target, vocab).items():
        for gamma in (1, 3, 5):
            result = speculative_generate(draft, target, prompt, 40, gamma=gamma)
            assert result.tokens.tolist() == expected.tolist(), (draft_name, gamma)
            assert len(result.tokens) == 40


@pytest.mark.parametrize("target_name", TARGETS)
def test_autoregressive_greedy_equals_generate(target_name):
    target, _, prompt, expected = _case(target_name)
    result = autoregressive_generate(target, prompt, 40)
    assert result.tokens.tolist() == expected.tolist()
    assert result.target_calls == 40


def test_same_draft_accepts_everything():
    target = make_llama(0)
    result = speculative_generate(target, target, _prompt(64), 30, gamma=4)
    assert result.acceptance_rate == 1.0
    assert result.tokens_per_target_call == 5.0  # six steps of 4 accepted + 1 bonus


def test_eos_stops_both_decoders_like_generate():
    # Find a token that greedy decoding emits mid-way, then declare it the end-of-sequence token.
    target = make_llama(3, vocab=32)
    prompt = _prompt(32, seed=3)
    free_run = target.generate(prompt, max_new_tokens=30, do_sample=False)[0, prompt.shape[1]:].tolist()
    eos = free_run[len(free_run) // 2]
    expected = target.generate(prompt, max_new_tokens=30, do_sample=False, eos_token_id=eos, pad_token_id=eos)
    expected = expected[0, prompt.shape[1]:].tolist()
    assert expected[-1] == eos and len(expected) < 30
    draft = noisy_copy(target, 0.5, seed=1)
    assert speculative_generate(draft, target, prompt, 30, gamma=3, eos_token_id=eos).tokens.tolist() == expected
    assert autoregressive_generate(target, prompt, 30, eos_token_id=eos).tokens.tolist() == expected


def test_greedy_on_model_device(device):
    target = make_llama(0, device=device)
    draft = noisy_copy(target, 0.5, seed=2)
    prompt = _prompt(64).to(device)
    expected = target.generate(prompt, max_new_tokens=20, do_sample=False)[0, prompt.shape[1]:].cpu()
    assert speculative_generate(draft, target, prompt, 20, gamma=3).tokens.tolist() == expected.tolist()
