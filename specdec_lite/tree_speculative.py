"""Tree speculative decoding: the draft proposes a tree of tokens, the target scores all of it in one pass.

One step, with ``p`` the target's distribution and ``q`` the draft's (both after temperature):

1. the drafter grows a tree of ``depth`` levels, ``branching`` children per node (or the ``budget``
   best nodes); a draft model makes one call per level (:func:`specdec_lite.tree_draft.draft_tree`);
2. the target scores the unseen sequence tokens and every node in one call under the tree mask,
   giving ``p`` at the root and at every node (:func:`specdec_lite.tree_verify.score_tree`);
3. from the root down, the children of the current node are tried in turn: child ``x`` is accepted
   with probability ``min(1, p(x)/q(x))``; after a rejection ``p := norm(max(0, p - q))`` and the next
   sibling is tried. An accepted child becomes the current node (with the target's fresh ``p`` there);
   when every child is rejected, or the node is a leaf, one token is drawn from the current ``p``.
   For top-k children ``q`` is the point mass on the child, so the test is "accept with probability
   ``p(x)``" and the residual is ``p`` with ``x`` zeroed and renormalised;
4. both caches keep the accepted path behind the prefix (:func:`specdec_lite.calls.compact_cache`,
   the drafter's ``keep_path``) and lose every other node; then they are cut back to the sequence minus
   its newest token, and a drafter that wants them gets the target's hidden states of the tokens it kept.

Lossless like the chain: each output token has the target's distribution (its argmax at temperature 0).
"""

from __future__ import annotations

import torch
from transformers import PreTrainedModel

from .calls import cache_length, check_attention, compact_cache, crop_cache, eval_mode, new_cache
from .checks import check_eos, check_generation_args, check_int, check_pair, check_prompt, vocab_size
from .drafters import TreeDrafter, as_drafter
from .dynamic import StopRule, check_stop
from .results import GenerationResult, NodeRecord, Recorder
from .sampling import accept, distribution, entropy, make_generator, record_distribution, residual, sample
from .stopping import clip_new_tokens
from .tree import drafted_nodes
from .tree_draft import CHILD_MODES, DraftedTree
from .tree_verify import score_tree

__all__ = ["MAX_TREE_NODES", "tree_speculative_generate", "accept_tree", "tree_nodes", "check_tree_args"]


MAX_TREE_NODES = 1024  # nodes drafted per step; the paper's tree has 14, EAGLE-2's about 60


def _tree_step_bytes(drafted: int, scored: int, vocab: int) -> int:
    """About how much memory one step of a tree needs: logits and distributions of every scored node, and the masks.

    Each node the target scores carries about ten float32 rows of ``vocab`` numbers (the logits, ``p`` and
    the node records' copies); the ancestor and attention masks grow with the square of the drafted nodes.
    Measured on the tiny pair (vocabulary 4,096): 167 MB for 1,056 nodes, 539 MB for 4,160; this gives
    180 MB and 820 MB.
    """
    return 40 * scored * vocab + 8 * drafted * drafted


def check_tree_args(depth, branching, budget, children: str, vocab: int | None = None) -> tuple[int, int, int | None]:
    """``(depth, branching, budget)`` as plain ints, or a clear error for a shape that makes no sense or is too big.

    A step may draft at most :data:`MAX_TREE_NODES` nodes (:func:`~specdec_lite.tree.drafted_nodes`):
    beyond that the masks and logits of a step take gigabytes, and the drafting loops minutes. With
    ``vocab`` (the vocabulary size) the error also says how much memory the tree would need.
    """
    depth, branching = check_int("depth", depth), check_int("branching", branching)
    if budget is not None:
        budget = check_int("budget (the most nodes per tree)", budget, hint="or None for the full static tree.")
    if children not in CHILD_MODES:
        raise ValueError(f"children must be one of {CHILD_MODES}, got {children!r}.")
    if budget is not None and children == "sample":
        raise ValueError(
            "a budget prunes children by their draft probability, which breaks the independence of sampled "
            "children that lossless acceptance needs; use children='topk' with a budget."
        )
    # every level holds at least one node, so a deeper tree is too big without counting its nodes
    drafted = drafted_nodes(depth, branching, budget) if depth <= MAX_TREE_NODES else None
    if drafted is None or drafted > MAX_TREE_NODES:
        shape = f"depth {depth} and branching {branching}" + (f" with budget {budget}" if budget else "")
        count = f"at least {depth:,}" if drafted is None else f"{drafted:,}"
        memory = ""
        if vocab is not None and drafted is not None:
            scored = drafted if budget is None else min(drafted, budget)
            size = _tree_step_bytes(drafted, scored, vocab)
            size = f"{size / 1e9:,.1f} GB" if size >= 1e8 else f"{size / 1e6:,.0f} MB"
            memory = f"; one step would need about {size} of memory for a vocabulary of {vocab:,} tokens"
        pruned = " (a budget limits the nodes kept, but every candidate is drafted first)" if budget else ""
        raise ValueError(
            f"a tree of {shape} drafts {count} nodes per step{pruned}{memory}; the limit is "
            f"{MAX_TREE_NODES:,} nodes per step. Lower the branching or the depth (the paper's depth 3, branching 2 "
            "drafts 14 nodes)."
        )
    return depth, branching, budget


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
    draft: TreeDrafter | PreTrainedModel,
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
    stop: StopRule | None = None,
) -> GenerationResult:
    """Generate ``max_new_tokens`` tokens from ``target`` with a drafted tree per step. Batch size 1.

    ``draft`` is any :class:`~specdec_lite.drafters.TreeDrafter` or a model sharing the target's vocabulary.

    ``depth``/``branching``: shape of the static tree (``b + ... + b^d`` nodes); with ``budget`` the
    tree is grown best-first to at most ``budget`` nodes (``children='topk'`` only). ``children``:
    ``'topk'`` (default; deterministic, what greedy decoding wants) or ``'sample'`` (i.i.d. from ``q``);
    see :mod:`specdec_lite.tree_draft`. A ``stop`` rule (:mod:`specdec_lite.dynamic`) ends each branch at the
    first node the draft is unsure of. Lossless at any ``temperature``; a step never drafts deeper
    than the tokens still to come, so it cannot overshoot ``max_new_tokens``. Both models must use
    "eager" or "sdpa" attention; they run in eval mode. A step drafts at most :data:`MAX_TREE_NODES` nodes.
    """
    drafter = as_drafter(draft)
    drafter.start(tree=True)
    max_new_tokens, temperature, _ = check_generation_args(max_new_tokens, temperature)
    check_pair(drafter, target)
    depth, branching, budget = check_tree_args(depth, branching, budget, children, vocab_size(target))
    stop = check_stop(stop)
    for model in (*drafter.models, target):
        check_attention(model)
    prompt = check_prompt(input_ids, max_new_tokens, *drafter.models, target)
    eos_token_id = check_eos(eos_token_id, target)
    generator = make_generator(seed)
    sequence, target_cache = prompt.tolist(), new_cache()
    record, done = Recorder(), False
    with eval_mode(*drafter.models, target):
        while not done:
            step, prefix = record.start_step(), len(sequence)
            remaining = max_new_tokens - (prefix - len(prompt))
            # 1. the drafter grows a tree of up to depth levels
            drafted = drafter.draft_tree(sequence, min(depth, remaining - 1), branching, budget=budget,
                                         children=children, temperature=temperature, generator=generator,
                                         stop=stop)
            # 2. one target call under the tree mask gives p at the root and at every node
            past = cache_length(target_cache)
            unseen = sequence[past:]
            scores = score_tree(target, target_cache, unseen, drafted.tree, drafted.tokens,
                                features=drafter.wants_features)
            p_logits = scores.logits[len(unseen) - 1:]
            # 3. walk down from the root, trying each node's children in turn
            path, next_token = accept_tree(drafted, distribution(p_logits, temperature), generator)
            kept, done = clip_new_tokens([drafted.tokens[i] for i in path] + [next_token], remaining, eos_token_id)
            # 4. both caches keep the accepted path behind the prefix, then the sequence minus its newest token
            compact_cache(target_cache, prefix, [prefix + i for i in path])
            drafter.keep_path(drafted, prefix, path)
            sequence += kept
            crop_cache(target_cache, len(sequence) - 1)
            rows = [*range(len(unseen)), *(len(unseen) + i for i in path)]  # the target's rows of what it kept
            drafter.rollback(len(sequence) - 1, scores.features_at(rows[:len(sequence) - 1 - past]))
            record.end_step(drafted.tree.size, len(path), len(kept), cache_length(target_cache),
                            drafter.cache_length(), draft_calls=drafted.calls,
                            nodes=tree_nodes(step, drafted, p_logits, path, temperature))
    return record.finish(sequence[len(prompt):])
