"""The drafter interface: the decoders take any drafter, and one that asks for the target's features gets them.

``FeatureRecorder`` stands in for the drafters of lesson 9 (Medusa's heads, EAGLE), which read the target's
last hidden state of the accepted tokens: it drafts with a model, asks for the features and records what it
is handed. The decoders must give it exactly the hidden states a separate target pass computes, each token's
once, from the verification pass itself (no extra target call), and stay exact and lossless with it.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from specdec_lite import speculative_generate, tree_speculative_generate
from specdec_lite.drafters import ModelDrafter, as_drafter
from specdec_lite.lookup import PromptLookup

from conftest import make_llama, noisy_copy
from distribution import chi_square_pvalue, exact_continuations

PROMPT = torch.tensor([[5, 1, 9, 3, 3, 7]])


class FeatureRecorder(ModelDrafter):
    """A model draft that asks for the target's features and keeps every ``(length, features)`` it is handed."""

    wants_features = True

    def start(self, *, tree: bool) -> None:
        super().start(tree=tree)
        self.received: list[tuple[int, torch.Tensor]] = []

    def rollback(self, length: int, features: torch.Tensor | None) -> None:
        self.received.append((length, features))
        super().rollback(length, features)


@pytest.fixture(scope="module")
def pair():
    target = make_llama(0, vocab=64, layers=2)
    return noisy_copy(target, 0.5, seed=1), target


def decode(decoder: str, draft, target, n: int = 24, **kwargs):
    if decoder == "chain":
        return speculative_generate(draft, target, PROMPT, n, gamma=3, **kwargs)
    return tree_speculative_generate(draft, target, PROMPT, n, depth=3, branching=2, **kwargs)


def without_time(result):
    return result.tokens.tolist(), [replace(s, seconds=0.0) for s in result.steps], result.nodes, \
        result.draft_calls, result.target_calls


@pytest.mark.parametrize("decoder", ["chain", "tree"])
def test_a_drafter_that_wants_features_gets_the_targets_hidden_states(pair, decoder):
    draft, target = pair
    recorder = FeatureRecorder(draft)
    result = decode(decoder, recorder, target)
    expected = target.generate(PROMPT, max_new_tokens=24, do_sample=False)[0, PROMPT.shape[1]:]
    assert torch.equal(result.tokens, expected)  # greedy exactness holds for it
    sequence = PROMPT[0].tolist() + result.tokens.tolist()
    with torch.no_grad():
        hidden = target(input_ids=torch.tensor([sequence[:-1]]), output_hidden_states=True).hidden_states[-1][0]
    lengths = [length for length, _ in recorder.received]
    assert len(lengths) == len(result.steps) and lengths[-1] == len(sequence) - 1
    previous = 0
    for (length, features), step in zip(recorder.received, result.steps):
        assert length == step.target_cache
        assert features.shape == (length - previous, target.config.hidden_size)  # the tokens that entered the cache
        torch.testing.assert_close(features, hidden[previous:length], atol=1e-5, rtol=1e-4)
        previous = length
    assert result.target_calls == len(result.steps)  # the features came with the verification pass


@pytest.mark.parametrize("decoder", ["chain", "tree"])
def test_asking_for_features_changes_nothing_else(pair, decoder):
    draft, target = pair
    for temperature, seed in [(0.0, None), (1.0, 3), (0.7, 11)]:
        plain = decode(decoder, draft, target, temperature=temperature, seed=seed)
        recorded = decode(decoder, FeatureRecorder(draft), target, temperature=temperature, seed=seed)
        assert without_time(recorded) == without_time(plain)


@pytest.mark.slow
@pytest.mark.parametrize("decoder", ["chain", "tree"])
def test_samples_with_the_feature_drafter_follow_the_target(decoder):
    """Lossless at temperature 1: 2-token continuations fit the target's exact distribution, not the draft's."""
    vocab, prompt = 6, [1, 4, 2]
    target = make_llama(10, vocab=vocab, hidden=16, layers=1, init=0.5)
    draft = make_llama(11, vocab=vocab, hidden=16, layers=1, init=0.5)
    recorder = FeatureRecorder(draft)
    kwargs = {"gamma": 2} if decoder == "chain" else {"depth": 2, "branching": 2, "children": "sample"}
    generate = speculative_generate if decoder == "chain" else tree_speculative_generate
    samples = [tuple(generate(recorder, target, torch.tensor([prompt]), 2, temperature=1.0, seed=s,
                              **kwargs).tokens.tolist()) for s in range(3000)]
    assert chi_square_pvalue(samples, exact_continuations(target, prompt, 2)) > 0.01
    assert chi_square_pvalue(samples, exact_continuations(draft, prompt, 2)) < 1e-6


def test_a_model_is_wrapped_once_and_a_drafter_passes_through(pair):
    draft, _ = pair
    wrapped = as_drafter(draft)
    assert isinstance(wrapped, ModelDrafter) and wrapped.model is draft and wrapped.models == (draft,)
    assert as_drafter(wrapped) is wrapped
    lookup = PromptLookup(vocab_size=64)
    assert as_drafter(lookup) is lookup and lookup.models == () and lookup.cache_length() == 0


@pytest.mark.parametrize("decoder", ["chain", "tree"])
def test_one_drafter_serves_generation_after_generation(pair, decoder):
    """Each generation starts the drafter afresh: its cache from the last one is not reused."""
    draft, target = pair
    drafter = ModelDrafter(draft)
    first = decode(decoder, drafter, target, temperature=1.0, seed=2)
    decode(decoder, drafter, target, n=9)
    again = decode(decoder, drafter, target, temperature=1.0, seed=2)
    assert without_time(again) == without_time(first) == without_time(decode(decoder, draft, target, temperature=1.0,
                                                                             seed=2))
