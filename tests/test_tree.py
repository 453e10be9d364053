"""Tree speculative decoding: tree structure, one-pass verification, cache compaction, exactness, losslessness."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from specdec_lite.calls import cache_length, compact_cache, forward, new_cache
from specdec_lite.sampling import make_generator
from specdec_lite.speculative import speculative_generate
from specdec_lite.tree import TokenTree, best_first, plot_tree, static_tree, tree_text
from specdec_lite.tree_draft import draft_tree
from specdec_lite.tree_speculative import tree_speculative_generate
from specdec_lite.tree_verify import verify_tree

from conftest import make_llama, noisy_copy
from distribution import chi_square_pvalue, exact_continuations


def _prompt(vocab: int, length: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, vocab, (1, length), generator=torch.Generator().manual_seed(seed))


# --- structure -------------------------------------------------------------------------------------


def test_static_tree_structure():
    tree = static_tree(2, 2)
    assert tree.parents.tolist() == [-1, -1, 0, 0, 1, 1]
    assert tree.depths.tolist() == [1, 1, 2, 2, 2, 2]
    assert tree.position_ids(10).tolist() == [10, 10, 11, 11, 11, 11]
    assert tree.paths() == [[0, 2], [0, 3], [1, 4], [1, 5]]
    assert tree.children(-1) == [0, 1] and tree.children(1) == [4, 5] and tree.children(3) == []
    expected = torch.tensor([
        [1, 0, 0, 0, 0, 0],
        [0, 1, 0, 0, 0, 0],
        [1, 0, 1, 0, 0, 0],
        [1, 0, 0, 1, 0, 0],
        [0, 1, 0, 0, 1, 0],
        [0, 1, 0, 0, 0, 1],
    ], dtype=torch.bool)
    assert torch.equal(tree.ancestors, expected)
    mask = tree.attention_mask(3)
    assert mask.shape == (6, 9) and mask[:, :3].all() and torch.equal(mask[:, 3:], expected)
    assert static_tree(3, 2).size == 2 + 4 + 8 and static_tree(4, 1).parents.tolist() == [-1, 0, 1, 2]


def test_irregular_tree_structure():
    tree = TokenTree(torch.tensor([-1, -1, 0, 2, 1, 0]))
    assert tree.depths.tolist() == [1, 1, 2, 3, 2, 2]
    assert tree.paths() == [[0, 2, 3], [1, 4], [0, 5]]
    assert tree.path(3) == [0, 2, 3]
    assert tree.position_ids(4).tolist() == [4, 4, 5, 6, 5, 5]


@pytest.mark.parametrize("parents", [[0, -1], [-1, 1], [-1, -2], [[-1]]])
def test_bad_parents_are_rejected(parents):
    with pytest.raises(ValueError):
        TokenTree(torch.tensor(parents))


def test_best_first_keeps_a_tree():
    """Scores that are products along paths: the kept set is the top ``budget`` and closed under ancestors."""
    generator = torch.Generator().manual_seed(0)
    tree = static_tree(3, 3)
    q = torch.rand(tree.size, generator=generator)
    scores = torch.zeros(tree.size)
    for i, parent in enumerate(tree.parents.tolist()):
        scores[i] = q[i] * (scores[parent] if parent >= 0 else 1.0)
    for budget in (1, 4, 10, 100):
        kept = best_first(scores, budget).tolist()
        assert len(kept) == min(budget, tree.size)
        assert all(tree.parents[i] < 0 or int(tree.parents[i]) in kept for i in kept)
        assert min(scores[kept]) >= max(scores[[i for i in range(tree.size) if i not in kept]], default=0)


def test_drawings_mark_the_path():
    tree = static_tree(2, 2)
    text = tree_text(tree, [str(t) for t in range(6)], path=[1, 4])
    assert text.splitlines()[0] == "(root)" and "4 *" in text and "1 *" in text and "0 *" not in text
    assert len(text.splitlines()) == 7
    ax = plot_tree(tree, list("abcdef"), path=[1, 4])
    assert len(ax.texts) == 7
    matplotlib.pyplot.close("all")


# --- one-pass verification and the cache ---------------------------------------------------------------


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_tree_logits_equal_path_logits(attn, device):
    """Every node's logits under the tree mask equal those of its root-to-node path run as a plain sequence."""
    target = make_llama(3, vocab=50, layers=2, device=device)
    target.set_attn_implementation(attn)
    tree = TokenTree(torch.tensor([-1, -1, 0, 0, 1, 2, 2, 5]))
    tokens = torch.randint(0, 50, (tree.size,), generator=torch.Generator().manual_seed(1)).tolist()
    prompt = _prompt(50, 7, seed=2)[0].tolist()
    cache = new_cache()
    forward(target, torch.tensor(prompt[:4], device=device), cache)  # the cache holds part of the prefix
    logits = verify_tree(target, cache, prompt[4:], tree, tokens)
    assert logits.shape == (1 + tree.size, 50) and cache_length(cache) == len(prompt) + tree.size
    plain = forward(target, torch.tensor(prompt, device=device), new_cache())[-1]
    torch.testing.assert_close(logits[0], plain, atol=1e-5, rtol=1e-5)
    for node in range(tree.size):
        sequence = prompt + [tokens[i] for i in tree.path(node)]
        plain = forward(target, torch.tensor(sequence, device=device), new_cache())[-1]
        torch.testing.assert_close(logits[1 + node], plain, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_compacted_cache_equals_plain_cache(attn, device):
    """After compaction the cache holds exactly what a plain run of prefix + path leaves, and decoding goes on."""
    target = make_llama(4, vocab=40, layers=2, device=device)
    target.set_attn_implementation(attn)
    tree = static_tree(3, 2)
    tokens = torch.randint(0, 40, (tree.size,), generator=torch.Generator().manual_seed(3)).tolist()
    prompt = _prompt(40, 5, seed=4)[0].tolist()
    path = tree.path(11)  # depth 3: nodes 1, 4, 11
    cache = new_cache()
    verify_tree(target, cache, prompt, tree, tokens)
    compact_cache(cache, len(prompt), [len(prompt) + i for i in path])
    plain_cache = new_cache()
    forward(target, torch.tensor(prompt + [tokens[i] for i in path], device=device), plain_cache)
    assert cache_length(cache) == cache_length(plain_cache) == len(prompt) + 3
    for layer, plain_layer in zip(cache.layers, plain_cache.layers):
        torch.testing.assert_close(layer.keys, plain_layer.keys, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(layer.values, plain_layer.values, atol=1e-5, rtol=1e-5)
    next_logits = forward(target, torch.tensor([7], device=device), cache)
    torch.testing.assert_close(next_logits, forward(target, torch.tensor([7], device=device), plain_cache))


@pytest.mark.parametrize("budget", [None, 6])
def test_drafted_tree_uses_the_tree_mask(budget, device):
    """Each node was chosen from the draft's logits at its parent, equal to a plain run of prefix + path."""
    draft = make_llama(6, vocab=30, layers=2, device=device)
    prompt = _prompt(30, seed=6)[0].tolist()
    cache = new_cache()
    drafted = draft_tree(draft, cache, prompt, 3, 3, budget=budget, children="topk", temperature=0.0,
                         generator=make_generator(0))
    tree = drafted.tree
    assert tree.size == (budget or 3 + 9 + 27) and int(tree.depths.max()) <= 3
    assert drafted.calls == 3 and cache_length(cache) == len(prompt) + sum(s >= 0 for s in drafted.draft_slots)
    for node in range(tree.size):
        parent = int(tree.parents[node])
        context = prompt + ([drafted.tokens[i] for i in tree.path(parent)] if parent >= 0 else [])
        plain = forward(draft, torch.tensor(context, device=device), new_cache())[-1]
        torch.testing.assert_close(drafted.q_logits[node], plain, atol=1e-5, rtol=1e-5)
        siblings = tree.children(parent)
        assert drafted.ranks[node] == siblings.index(node)
        assert drafted.tokens[node] in torch.topk(plain, 3).indices.tolist()


# --- greedy exactness -----------------------------------------------------------------------------------

SHAPES = [(1, 1, None), (2, 3, None), (3, 2, None), (3, 2, 6), (4, 3, 10)]  # depth, branching, budget


def _drafts(target, vocab: int) -> dict:
    return {
        "same": target,
        "noisy": noisy_copy(target, 0.3, seed=7),
        "unrelated": make_llama(99, vocab=vocab, hidden=16, layers=1),
    }


def _check_greedy(target, vocab: int, seed: int, shapes, n_tokens: int = 30) -> None:
    prompt = _prompt(vocab, seed=seed).to(target.device)
    expected = target.generate(prompt, max_new_tokens=n_tokens, do_sample=False)[0, prompt.shape[1]:].tolist()
    for draft_name, draft in _drafts(target, vocab).items():
        for depth, branching, budget in shapes:
            result = tree_speculative_generate(draft, target, prompt, n_tokens, depth=depth, branching=branching,
                                               budget=budget)
            assert result.tokens.tolist() == expected, (draft_name, depth, branching, budget)
            assert result.steps[-1].target_cache == prompt.shape[1] + n_tokens - 1
            assert result.target_calls == len(result.steps)


def test_tree_greedy_equals_generate():
    _check_greedy(make_llama(0, vocab=64, layers=2), 64, 0, SHAPES)


@pytest.mark.slow
@pytest.mark.parametrize("seed,vocab,layers", [(1, 200, 3), (2, 97, 1)])
def test_tree_greedy_equals_generate_more_models(seed, vocab, layers):
    _check_greedy(make_llama(seed, vocab=vocab, layers=layers), vocab, seed, SHAPES, n_tokens=40)


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_tree_greedy_on_device(attn, device):
    target = make_llama(5, vocab=64, layers=2, device=device)
    target.set_attn_implementation(attn)
    prompt = _prompt(64, seed=5).to(device)
    expected = target.generate(prompt, max_new_tokens=20, do_sample=False)[0, prompt.shape[1]:].tolist()
    draft = noisy_copy(target, 0.3, seed=8)
    draft.set_attn_implementation(attn)
    for budget in (None, 5):
        assert tree_speculative_generate(draft, target, prompt, 20, budget=budget).tokens.tolist() == expected


def test_same_draft_accepts_whole_paths():
    target = make_llama(0)
    result = tree_speculative_generate(target, target, _prompt(64), 32, depth=3, branching=2)
    assert result.tokens_per_target_call == 4.0 and result.mean_accepted == 3.0
    assert result.draft_calls == 3 * len(result.steps)


def test_node_records_describe_the_tree():
    target = make_llama(0)
    result = tree_speculative_generate(noisy_copy(target, 0.2, seed=1), target, _prompt(64), 24, depth=3, branching=2)
    for step in result.steps:
        nodes = [n for n in result.nodes if n.step == step.step]
        if not nodes:  # the last step drafts nothing when one token is left
            assert step.drafted == 0
            continue
        shape = static_tree(max(n.depth for n in nodes), 2)  # the last steps are shallower
        assert len(nodes) == step.drafted == shape.size
        assert [n.parent for n in nodes] == shape.parents.tolist()
        assert [n.rank for n in nodes] == [0, 1] * (shape.size // 2)
        path = [i for i, n in enumerate(nodes) if n.on_path]
        assert len(path) == step.accepted and [nodes[i].depth for i in path] == list(range(1, step.accepted + 1))
        assert all(n.accepted == n.on_path for n in nodes)
        assert all(nodes[i].parent == (path[k - 1] if k else -1) for k, i in enumerate(path))
        assert all(0 <= n.p_prob <= 1 and 0 <= n.q_prob <= 1 for n in nodes)


def test_eos_stops_generation():
    target = make_llama(0)
    prompt = _prompt(64)
    full = tree_speculative_generate(target, target, prompt, 20).tokens.tolist()
    eos = full[6]
    result = tree_speculative_generate(noisy_copy(target, 0.2, seed=1), target, prompt, 20, eos_token_id=eos)
    assert result.tokens.tolist() == full[: full.index(eos) + 1]


# --- branching 1 is the chain ---------------------------------------------------------------------------


@pytest.mark.parametrize("children", ["topk", "sample"])
def test_branching_one_greedy_equals_chain(children):
    target = make_llama(0)
    draft = noisy_copy(target, 0.3, seed=2)
    prompt = _prompt(64)
    for depth in (1, 3):
        chain = speculative_generate(draft, target, prompt, 25, gamma=depth)
        tree = tree_speculative_generate(draft, target, prompt, 25, depth=depth, branching=1, children=children)
        assert tree.tokens.tolist() == chain.tokens.tolist()
        assert [s.accepted for s in tree.steps] == [s.accepted for s in chain.steps]


def test_branching_one_sampling_equals_chain():
    """With sampled children the tree draws and tests in the chain's order, so one seed gives the same tokens.

    (Top-k children take the draft's argmax without a uniform, so they cannot match the chain at T > 0.)
    """
    target = make_llama(0, vocab=16, init=0.5)
    draft = noisy_copy(target, 0.5, seed=2)
    prompt = _prompt(16)
    for seed in range(5):
        chain = speculative_generate(draft, target, prompt, 20, gamma=3, temperature=1.0, seed=seed)
        tree = tree_speculative_generate(draft, target, prompt, 20, depth=3, branching=1, temperature=1.0, seed=seed,
                                         children="sample")
        assert tree.tokens.tolist() == chain.tokens.tolist()


# --- losslessness -----------------------------------------------------------------------------------------

VOCAB = 8
PROMPT = [1, 4, 2]


@pytest.fixture(scope="module")
def far_pair():
    """A target and an unrelated draft: their next-token distributions differ a lot."""
    target = make_llama(10, vocab=VOCAB, hidden=16, layers=1, init=0.5)
    draft = make_llama(11, vocab=VOCAB, hidden=16, layers=1, init=0.5)
    return draft, target


def _check_lossless(pair, n_samples: int, n_tokens: int, temperature: float = 1.0, **tree_args) -> None:
    draft, target = pair
    prompt = torch.tensor([PROMPT])
    samples = [
        tuple(tree_speculative_generate(draft, target, prompt, n_tokens, temperature=temperature, seed=s,
                                        **tree_args).tokens.tolist())
        for s in range(n_samples)
    ]
    assert chi_square_pvalue(samples, exact_continuations(target, PROMPT, n_tokens, temperature)) > 0.01
    # power: the draft's own distribution is rejected by the same samples
    assert chi_square_pvalue(samples, exact_continuations(draft, PROMPT, n_tokens, temperature)) < 1e-6


def test_sampled_children_are_lossless(far_pair):
    _check_lossless(far_pair, 1000, 3, depth=2, branching=2, children="sample")


def test_topk_children_are_lossless(far_pair):
    _check_lossless(far_pair, 1000, 2, depth=1, branching=3, children="topk")


@pytest.mark.slow
@pytest.mark.parametrize("tree_args,n_tokens,temperature", [
    (dict(depth=3, branching=3, children="sample"), 4, 1.0),
    (dict(depth=2, branching=3, children="topk"), 3, 1.0),
    (dict(depth=3, branching=2, children="topk", budget=5), 4, 1.0),
    (dict(depth=2, branching=2, children="sample"), 3, 0.6),
])
def test_tree_sampling_is_lossless_more_shapes(far_pair, tree_args, n_tokens, temperature):
    _check_lossless(far_pair, 3000, n_tokens, temperature, **tree_args)


@pytest.mark.slow
@pytest.mark.parametrize("children", ["sample", "topk"])
def test_a_wrong_tree_rule_is_caught(far_pair, monkeypatch, children):
    """Mutation check: keeping p unchanged after a rejected sibling (no residual) must fail the test."""
    import specdec_lite.tree_speculative as tree_speculative

    draft, target = far_pair
    monkeypatch.setattr(tree_speculative, "residual", lambda p, q: p)
    samples = [tuple(tree_speculative_generate(draft, target, torch.tensor([PROMPT]), 2, depth=1, branching=3,
                                               temperature=1.0, seed=s, children=children).tokens.tolist())
               for s in range(1000)]
    assert chi_square_pvalue(samples, exact_continuations(target, PROMPT, 2)) < 1e-6


def test_same_seed_same_tokens(far_pair):
    draft, target = far_pair
    runs = [tree_speculative_generate(draft, target, torch.tensor([PROMPT]), 12, temperature=1.0, seed=5,
                                      children="sample").tokens.tolist() for _ in range(2)]
    assert runs[0] == runs[1]


# --- errors -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs,message", [
    (dict(depth=0), "depth"),
    (dict(branching=0), "branching"),
    (dict(budget=0), "budget"),
    (dict(depth=1.5), "depth"),
    (dict(children="beam"), "children"),
    (dict(budget=4, children="sample"), "topk"),
])
def test_bad_tree_arguments(kwargs, message):
    model = make_llama(0)
    with pytest.raises(ValueError, match=message):
        tree_speculative_generate(model, model, _prompt(64), 5, **kwargs)


def test_unsupported_attention_is_named():
    model = make_llama(0)
    model.set_attn_implementation("flex_attention")
    with pytest.raises(ValueError, match="flex_attention.*supported: eager, sdpa"):
        tree_speculative_generate(make_llama(1), model, _prompt(64), 5)
