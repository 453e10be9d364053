"""Prompt lookup, the model-free draft: what it proposes, and that decoding with it stays exact and lossless."""

from __future__ import annotations

import pytest
import torch

from specdec_lite import speculative_generate, tree_speculative_generate
from specdec_lite.lookup import PromptLookup

from conftest import make_llama
from distribution import chi_square_pvalue, exact_continuations


def test_proposes_what_followed_the_latest_match():
    lookup = PromptLookup(vocab_size=50, max_ngram=3)
    #          0  1  2  3  4  5  6  7  8  9
    sequence = [5, 6, 7, 8, 9, 5, 6, 7, 1, 5, 6, 7]
    assert lookup.propose(sequence, 2) == [1, 5]      # latest match of [5, 6, 7] is at 5..7, followed by 1
    assert lookup.propose([1, 2, 3, 9, 2, 3], 3) == [9, 2, 3]  # [2, 3] matched; a 3-gram did not
    assert lookup.propose([4, 8, 4], 5) == [8, 4]    # falls back to a 1-gram, proposal cut by the sequence end
    assert lookup.propose([1, 2, 3], 4) == []         # nothing repeats: nothing proposed
    tokens, logits = lookup.draft(sequence, 2)
    assert logits.shape == (2, 50) and torch.equal(logits.argmax(-1), torch.tensor(tokens))
    assert torch.isinf(logits).sum() == 2 * 49


def test_bad_ngram_range_is_refused():
    with pytest.raises(ValueError, match="min_ngram <= max_ngram"):
        PromptLookup(vocab_size=10, min_ngram=3, max_ngram=2)


def test_vocabulary_must_match_the_target():
    target = make_llama(0, vocab=64)
    with pytest.raises(ValueError, match="vocabulary of 50 tokens and the target 64"):
        speculative_generate(PromptLookup(vocab_size=50), target, torch.tensor([[1, 2, 3]]), 5)


def test_tree_decoder_says_to_use_the_chain():
    target = make_llama(0, vocab=64)
    with pytest.raises(TypeError, match="use speculative_generate"):
        tree_speculative_generate(PromptLookup(vocab_size=64), target, torch.tensor([[1, 2, 3]]), 5)


@pytest.mark.parametrize("seed,vocab", [(0, 64), (1, 200), (2, 97)])
@pytest.mark.parametrize("gamma", [1, 3, 5])
def test_greedy_equals_target_generate(seed, vocab, gamma):
    target = make_llama(seed, vocab=vocab, layers=2)
    # a repetitive prompt, so that lookup finds matches and some are accepted
    prompt = torch.tensor([[3, 4, 5, 6, 3, 4, 5, 6, 3, 4]]) % vocab
    expected = target.generate(prompt, max_new_tokens=40, do_sample=False)[0, prompt.shape[1]:]
    result = speculative_generate(PromptLookup(vocab_size=vocab), target, prompt, 40, gamma=gamma)
    assert torch.equal(result.tokens, expected)
    assert result.target_calls <= 40


def test_lookup_is_accepted_on_repetitive_text():
    """A target that loops is drafted almost perfectly by lookup: the check has teeth only if some drafts pass."""
    target = make_llama(0, vocab=64, layers=2)
    prompt = torch.tensor([[3, 4, 5, 6, 3, 4, 5, 6, 3, 4]])
    result = speculative_generate(PromptLookup(vocab_size=64), target, prompt, 60, gamma=4)
    assert sum(step.accepted for step in result.steps) > 0


def test_sampled_continuations_follow_the_target():
    """Lossless at temperature 1: 2-token continuations fit the target's exact distribution."""
    vocab, prompt = 6, [1, 4, 2, 1, 4]
    target = make_llama(10, vocab=vocab, hidden=16, layers=1, init=0.5)
    lookup = PromptLookup(vocab_size=vocab)
    samples = [tuple(speculative_generate(lookup, target, torch.tensor([prompt]), 2, gamma=2, temperature=1.0,
                                          seed=s).tokens.tolist()) for s in range(3000)]
    expected = exact_continuations(target, prompt, 2)
    assert chi_square_pvalue(samples, expected) > 0.01
    # power: lookup proposes 2 after [..., 1, 4]; a sampler that accepted it unconditionally would give
    # every continuation a first token 2, and the same samples reject that distribution
    first_is_2 = sum(v for k, v in expected.items() if k[0] == 2)
    accept_all = {k: v / first_is_2 if k[0] == 2 else 0.0 for k, v in expected.items()}
    assert lookup.propose(prompt, 2)[0] == 2
    assert chi_square_pvalue(samples, accept_all) < 1e-6


@pytest.mark.parametrize("kind", ["model", "eagle", "medusa"])
def test_lookup_or_a_drafter_is_exact_and_uses_both(kind):
    from conftest import eagle, medusa, noisy_copy
    from specdec_lite.lookup import LookupOr

    target = make_llama(0, vocab=64, layers=2, init=0.5)
    other = {"model": lambda: noisy_copy(target, 0.3, seed=1), "eagle": lambda: eagle(target),
             "medusa": lambda: medusa(target)}[kind]()
    both = LookupOr(PromptLookup(vocab_size=64), other)
    prompt = torch.tensor([[3, 4, 5, 6, 3, 4, 5, 6, 3, 4, 9, 9, 1]])
    expected = target.generate(prompt, max_new_tokens=40, do_sample=False)[0, prompt.shape[1]:]
    asked = []
    drafted_by_other = both.other.draft
    both.other.draft = lambda *args: asked.append(1) or drafted_by_other(*args)
    for gamma in (2, 4):
        asked.clear()
        result = speculative_generate(both, target, prompt, 40, gamma=gamma)
        assert torch.equal(result.tokens, expected)
        assert 0 < len(asked) < len(result.steps)  # each step asked one of the two: both drafted
    with pytest.raises(TypeError, match="chain"):
        tree_speculative_generate(both, target, prompt, 8)
