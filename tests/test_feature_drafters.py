"""Medusa's heads and the EAGLE-style layer: drafters that read the target's features, exact and lossless.

The heads and layers here are random (untrained): losslessness must hold for any drafter, and a random one
disagrees with the target often, which exercises rejection, residuals and the bonus token. Each is built
with and without a shortlist of the vocabulary.
"""

from __future__ import annotations

import copy
import time

import pytest
import torch

from specdec_lite import speculative_generate, tree_speculative_generate
from specdec_lite.eagle import EagleDrafter
from specdec_lite.medusa import MedusaDrafter
from specdec_lite.sampling import make_generator

from conftest import eagle, make_llama, medusa
from distribution import chi_square_pvalue, exact_continuations

PROMPTS = [[5, 1, 9, 3, 3, 7], [2, 2, 2], [17, 40, 8, 8, 1, 30, 12, 5, 5, 9, 60]]


MAKERS = {"medusa": medusa, "eagle": eagle}


@pytest.fixture(scope="module")
def target():
    return make_llama(0, vocab=64, layers=2, init=0.5)


@pytest.mark.parametrize("kind", MAKERS)
@pytest.mark.parametrize("shortlist", [None, list(range(0, 64, 2))])
def test_greedy_chain_and_tree_equal_the_targets_greedy_output(target, kind, shortlist):
    drafter = MAKERS[kind](target, shortlist)
    for prompt in PROMPTS:
        ids = torch.tensor([prompt])
        expected = target.generate(ids, max_new_tokens=30, do_sample=False)[0, len(prompt):]
        for gamma in (1, 3, 6):
            assert torch.equal(speculative_generate(drafter, target, ids, 30, gamma=gamma).tokens, expected)
        for depth, branching, budget in [(3, 2, None), (4, 3, 8), (1, 1, None)]:
            result = tree_speculative_generate(drafter, target, ids, 30, depth=depth, branching=branching,
                                               budget=budget)
            assert torch.equal(result.tokens, expected)


@pytest.mark.parametrize("kind", MAKERS)
def test_the_first_step_drafts_nothing_then_every_step_drafts(target, kind):
    drafter = MAKERS[kind](target)
    result = speculative_generate(drafter, target, torch.tensor([PROMPTS[0]]), 20, gamma=3)
    drafted = [step.drafted for step in result.steps]
    assert drafted[0] == 0 and all(d > 0 for d in drafted[1:-1])
    assert result.target_calls == len(result.steps)  # the features came with the verification passes


def test_medusa_drafts_at_most_one_token_per_head(target):
    drafter = medusa(target, heads=2)
    result = speculative_generate(drafter, target, torch.tensor([PROMPTS[0]]), 20, gamma=5)
    assert max(step.drafted for step in result.steps) == 2
    tree = tree_speculative_generate(drafter, target, torch.tensor([PROMPTS[0]]), 20, depth=4, branching=2)
    assert max(node.depth for node in tree.nodes) == 2


def test_eagle_pairs_each_feature_with_the_next_token(target):
    """After a generation, the layer's incremental state equals one pass over all pairs (h_t, e(x_{t+1}))."""
    drafter = eagle(target)
    prompt = PROMPTS[2]
    result = speculative_generate(drafter, target, torch.tensor([prompt]), 25, gamma=3)
    sequence = prompt + result.tokens.tolist()
    with torch.no_grad():
        hidden = target(input_ids=torch.tensor([sequence[:-1]]), output_hidden_states=True).hidden_states[-1][0]
        embeddings = target.get_input_embeddings()(torch.tensor(sequence[1:]))
        whole = drafter.layer(hidden[None], embeddings[None])[0]
    torch.testing.assert_close(drafter._root(sequence), whole[-1], atol=1e-5, rtol=1e-4)


def test_eagle_tree_nodes_see_exactly_their_path(target):
    """Each tree node's logits equal those of running the layer along its own path as a chain."""
    drafter = eagle(target)
    prompt = PROMPTS[0]
    speculative_generate(drafter, target, torch.tensor([prompt]), 12, gamma=2)  # leaves features pending
    sequence = prompt + speculative_generate(drafter, target, torch.tensor([prompt]), 12, gamma=2).tokens.tolist()
    chain = copy.deepcopy(drafter)
    drafted = drafter.draft_tree(sequence, 3, 2, budget=None, children="topk", temperature=0.0,
                                 generator=make_generator(0))
    root = chain._root(sequence)
    fed = chain.cache_length()
    parents = drafted.tree.parents.tolist()
    for node in range(drafted.tree.size):
        path, i = [], parents[node]
        while i >= 0:
            path.insert(0, drafted.tokens[i])
            i = parents[i]
        f = root
        for token in path:
            f = chain._run(f[None], [token])[0]
        torch.testing.assert_close(drafted.q_logits[node], chain.output.full(f), atol=1e-4, rtol=1e-4)
        chain.cache.crop(fed)


def _continuations(drafter, target, prompt, n, runs, **kwargs):
    generate = speculative_generate if "gamma" in kwargs else tree_speculative_generate
    return [tuple(generate(drafter, target, torch.tensor([prompt]), n, temperature=1.0, seed=s, **kwargs)
                  .tokens.tolist()) for s in range(runs)]


SHAPES = {"chain": {"gamma": 2}, "tree_sample": {"depth": 2, "branching": 2, "children": "sample"},
          "tree_topk": {"depth": 2, "branching": 2}}


VOCAB, PROMPT, N = 4, [1, 3, 2], 4  # 4-token continuations: the first step drafts nothing, later ones draft


def _far_drafter(kind):
    target = make_llama(10, vocab=VOCAB, hidden=16, layers=1, init=0.5)
    return MAKERS[kind](target, seed=3, scale=0.8), target


@pytest.mark.slow
@pytest.mark.parametrize("kind", MAKERS)
@pytest.mark.parametrize("shape", SHAPES)
def test_samples_follow_the_target(kind, shape):
    """Lossless at temperature 1: 4-token continuations (the last ones drafted) fit the target's exact distribution."""
    drafter, target = _far_drafter(kind)
    samples = _continuations(drafter, target, PROMPT, N, 3000, **SHAPES[shape])
    assert chi_square_pvalue(samples, exact_continuations(target, PROMPT, N)) > 0.01


@pytest.mark.slow
@pytest.mark.parametrize("kind", MAKERS)
def test_a_wrong_sampler_with_the_drafter_is_caught(kind, monkeypatch):
    """Power: the same test, with as many samples, rejects a decoder that resamples from p after a rejection."""
    import specdec_lite.tree_speculative as tree_module

    drafter, target = _far_drafter(kind)
    monkeypatch.setattr(tree_module, "residual", lambda p, q: p)
    samples = _continuations(drafter, target, PROMPT, N, 3000, **SHAPES["tree_sample"])
    assert chi_square_pvalue(samples, exact_continuations(target, PROMPT, N)) < 1e-6


@pytest.mark.parametrize("kind", MAKERS)
def test_saved_and_loaded_drafters_draft_the_same(target, kind, tmp_path):
    drafter = MAKERS[kind](target, list(range(0, 64, 3)))
    model = drafter.heads if kind == "medusa" else drafter.layer
    model.save_pretrained(tmp_path)
    loaded = type(model).from_pretrained(tmp_path)
    again = (MedusaDrafter if kind == "medusa" else EagleDrafter).of(loaded, target)
    ids = torch.tensor([PROMPTS[1]])
    first = speculative_generate(drafter, target, ids, 16, gamma=3, temperature=1.0, seed=4)
    second = speculative_generate(again, target, ids, 16, gamma=3, temperature=1.0, seed=4)
    assert first.tokens.tolist() == second.tokens.tolist()
    assert [s.accepted for s in first.steps] == [s.accepted for s in second.steps]


def test_draft_time_prices_a_chain_by_what_the_drafter_does(target):
    """A draft model pays a call per token; Medusa's heads one evaluation for the whole chain.

    What each drafter runs is counted with forward hooks (the clock on a shared machine is too noisy to tell
    six small head steps from one), and a drafter that sleeps a known time shows the clock is on the chain.
    """
    from specdec_lite.bench import draft_time

    def calls(module, run):
        count = [0]
        handle = module.register_forward_hook(lambda *_: count.__setitem__(0, count[0] + 1))
        try:
            run()
        finally:
            handle.remove()
        return count[0]

    heads = medusa(target, heads=6)
    model = make_llama(1, vocab=64, layers=2)
    drafts = 3 + 4  # warmup + repeats
    for gamma in (1, 6):
        assert calls(model, lambda: draft_time(model, target, gamma, repeats=4)) == gamma * drafts
        assert calls(heads.heads, lambda: draft_time(heads, target, gamma, repeats=4)) == drafts
    assert draft_time(eagle(target), target, 3, repeats=5) > 0

    class Sleeper(MedusaDrafter):
        def draft(self, sequence, k, temperature, generator):
            time.sleep(0.02)
            return super().draft(sequence, k, temperature, generator)

    slept = draft_time(Sleeper(heads.heads, heads.output), target, 2, repeats=5)
    assert slept >= 0.02


@pytest.mark.slow
def test_lookup_or_eagle_samples_follow_the_target():
    """Copying where the context matches and drafting elsewhere stays lossless at temperature 1."""
    from specdec_lite.lookup import LookupOr, PromptLookup

    drafter, target = _far_drafter("eagle")
    both = LookupOr(PromptLookup(vocab_size=VOCAB), drafter)
    samples = _continuations(both, target, PROMPT, N, 3000, gamma=2)
    assert chi_square_pvalue(samples, exact_continuations(target, PROMPT, N)) > 0.01
