"""Tree speculative decoding: the draft proposes a tree of tokens, the target scores all of it in one pass.

One step, with ``p`` the target's distribution and ``q`` the draft's (both after temperature):

1. the draft grows a tree of ``depth`` levels, ``branching`` children per node (or the ``budget``
   best nodes), one draft call per level (:func:`specdec_lite.tree_draft.draft_tree`);
2. the target scores the unseen sequence tokens and every node in one call under the tree mask,
   giving ``p`` at the root and at every node (:func:`specdec_lite.verify.verify_tree`);
3. from the root down, the children of the current node are tried in turn: child ``x`` is accepted
   with probability ``min(1, p(x)/q(x))``; after a rejection ``p := norm(max(0, p - q))`` and the next
   sibling is tried. An accepted child becomes the current node (with the target's fresh ``p`` there);
   when every child is rejected, or the node is a leaf, one token is drawn from the current ``p``.
   For top-k children ``q`` is the point mass on the child, so the test is "accept with probability
   ``p(x)``" and the residual is ``p`` with ``x`` zeroed and renormalised;
4. both caches keep the accepted path behind the prefix (:func:`specdec_lite.verify.compact_cache`)
   and lose every other node; then they are cut back to the sequence minus its newest token.

Lossless like the chain: each output token has the target's distribution (its argmax at temperature 0).
"""

from __future__ import annotations

import time

import torch
from transformers import PreTrainedModel

from .lookup import PromptLookup
from .checks import check_generation_args, check_pair, check_prompt
from .models import cache_length, crop_cache, new_cache
from .results import GenerationResult, NodeRecord, StepRecord
from .sampling import accept, distribution, entropy, make_generator, residual, sample
from .speculative import record_distribution
from .stopping import clip_new_tokens
from .tree_draft import CHILD_MODES, DraftedTree, draft_tree
from .verify import check_attention, compact_cache, verify_tree

__all__ = ["tree_speculative_generate", "accept_tree", "tree_nodes", "check_tree_args"]


def check_tree_args(depth: int, branching: int, budget: int | None, children: str) -> None:
    """Reject tree shapes that make no sense, with the reason."""
    for name, value in (("depth", depth), ("branching", branching)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    if budget is not None and (not isinstance(budget, int) or budget < 1):
        raise ValueError(f"budget (the most nodes per tree) must be an integer >= 1 or None, got {budget!r}.")
    if children not in CHILD_MODES:
        raise ValueError(f"children must be one of {CHILD_MODES}, got {children!r}.")
    if budget is not None and children == "sample":
        raise ValueError(
            "a budget prunes children by their draft probability, which breaks the independence of sampled "
            "children that lossless acceptance needs; use children='topk' with a budget."
        )


def accept_tree(drafted: DraftedTree, ps: torch.Tensor, generator: torch.Generator) -> tuple[list[int], int]:
    """Walk the tree from the root with multi-step speculative sampling; return the accepted path and the next token.

    ``ps[0]`` is ``p`` at the root and ``ps[1 + i]`` at node ``i``. Siblings are tried in index order.
    """
    path: list[int] = []
    node = -1
    while True:
        p = ps[node + 1]
        for child in drafted.tree.children(node):
            q = drafted.acceptance_q(child)
            x = drafted.tokens[child]
            if accept(p[x], q[x], generator):
                path.append(child)
                node = child
                break
            p = residual(p, q)
        else:
            return path, sample(p, generator)


def tree_nodes(step: int, drafted: DraftedTree, p_logits: torch.Tensor, path: list[int], temperature: float) -> list[NodeRecord]:
    """One node record per drafted node; ``p`` and ``q`` are read at the node's parent."""
    if drafted.tree.size == 0:
        return []
    parents, depths = drafted.tree.parents.tolist(), drafted.tree.depths.tolist()
    q = record_distribution(drafted.q_logits, temperature)
    p = record_distribution(p_logits[drafted.tree.parents + 1], temperature)
    index = torch.tensor(drafted.tokens, device=q.device)[:, None]
    q_x, p_x = q.gather(1, index)[:, 0].tolist(), p.gather(1, index.to(p.device))[:, 0].tolist()
    h_q, h_p = entropy(q).tolist(), entropy(p).tolist()
    on_path = set(path)
    return [
        NodeRecord(step, depths[i], x, q_x[i], h_q[i], p_x[i], h_p[i], accepted=i in on_path, parent=parents[i],
                   rank=drafted.ranks[i], on_path=i in on_path)
        for i, x in enumerate(drafted.tokens)
    ]


def tree_speculative_generate(
    draft: PreTrainedModel,
    target: PreTrainedModel,
    input_ids: torch.Tensor,
    max_new_tokens: int,
    *,
    depth: int = 3,
    branching: int = 2,
    budget: int | None = None,
    temperature: float = 0.0,
    seed: int | None = None,
    eos_token_id: int | None = None,
    children: str = "topk",
) -> GenerationResult:
    """Generate ``max_new_tokens`` tokens from ``target`` with a drafted tree per step. Batch size 1.

    ``depth``/``branching``: shape of the static tree (``b + ... + b^d`` nodes); with ``budget`` the
    tree is grown best-first to at most ``budget`` nodes (``children='topk'`` only). ``children``:
    ``'topk'`` (default; deterministic, what greedy decoding wants) or ``'sample'`` (i.i.d. from ``q``);
    see :mod:`specdec_lite.tree_draft`. Lossless at any ``temperature``; a step never drafts deeper
    than the tokens still to come, so it cannot overshoot ``max_new_tokens``. Both models must use
    "eager" or "sdpa" attention.
    """
    if isinstance(draft, PromptLookup):
        raise TypeError("a PromptLookup drafter proposes one chain, not a tree; use speculative_generate with it.")
    check_generation_args(max_new_tokens, temperature)
    check_tree_args(depth, branching, budget, children)
    check_pair(draft, target)
    check_attention(draft)
    check_attention(target)
    prompt = check_prompt(input_ids, max_new_tokens, draft, target)
    generator = make_generator(seed)
    sequence, draft_cache, target_cache = prompt.tolist(), new_cache(), new_cache()
    result = GenerationResult(tokens=torch.empty(0, dtype=torch.long))
    start, done = time.perf_counter(), False
    while not done:
        t0, step, prefix = time.perf_counter(), len(result.steps), len(sequence)
        remaining = max_new_tokens - (prefix - len(prompt))
        levels = min(depth, remaining - 1)
        drafted = draft_tree(draft, draft_cache, sequence, levels, branching, budget=budget, children=children,
                             temperature=temperature, generator=generator)
        result.draft_calls += drafted.calls
        p_logits = verify_tree(target, target_cache, sequence[cache_length(target_cache):], drafted.tree, drafted.tokens)
        result.target_calls += 1
        path, next_token = accept_tree(drafted, distribution(p_logits, temperature), generator)
        result.nodes += tree_nodes(step, drafted, p_logits, path, temperature)
        kept, done = clip_new_tokens([drafted.tokens[i] for i in path] + [next_token], remaining, eos_token_id)
        compact_cache(target_cache, prefix, [prefix + i for i in path])
        compact_cache(draft_cache, prefix, [prefix + drafted.draft_slots[i] for i in path if drafted.draft_slots[i] >= 0])
        sequence += kept
        crop_cache(target_cache, len(sequence) - 1)
        crop_cache(draft_cache, len(sequence) - 1)
        result.steps.append(StepRecord(
            step, drafted.tree.size, len(path), len(kept), time.perf_counter() - t0,
            cache_length(target_cache), cache_length(draft_cache),
        ))
    result.tokens = torch.tensor(sequence[len(prompt):], dtype=torch.long)
    result.wall_time = time.perf_counter() - start
    return result
