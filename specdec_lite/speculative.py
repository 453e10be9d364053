"""Chain speculative decoding: the draft proposes ``gamma`` tokens, the target checks them in one pass.

One step, with ``p`` the target's distribution and ``q`` the draft's (both after temperature):

1. the drafter proposes ``x_1 .. x_k`` with ``q_1 .. q_k`` (a draft model samples them, one cached
   call per token);
2. the target scores the unseen tokens and ``x_1 .. x_k`` in one forward pass, giving
   ``p_1 .. p_{k+1}``;
3. walking along the chain, ``x_i`` is accepted with probability ``min(1, p_i(x_i) / q_i(x_i))``;
   at the first rejection a replacement is drawn from ``norm(max(0, p_i - q_i))`` and the step ends;
   if all ``k`` pass, a bonus token is drawn from ``p_{k+1}`` (:func:`accept_chain`);
4. both caches are cut back to the accepted sequence (minus its newest token, which the next step
   feeds); a drafter that wants them gets the target's hidden states of the tokens it kept.

Every output token is distributed exactly as the target alone would produce it, and each step emits
between 1 and ``k + 1`` tokens for one target call. At temperature 0 the same code is greedy decoding.
"""

from __future__ import annotations

import torch
from transformers import PreTrainedModel

from .calls import cache_length, crop_cache, eval_mode, new_cache, score
from .checks import check_eos, check_generation_args, check_pair, check_prompt
from .drafters import Drafter, as_drafter
from .dynamic import DEFAULT_GAMMA, StopRule, check_stop, default_chain
from .results import GenerationResult, NodeRecord, Recorder
from .sampling import accept, distribution, entropy, make_generator, record_distribution, residual, sample
from .stopping import clip_new_tokens

__all__ = ["speculative_generate", "accept_chain", "chain_nodes"]


def accept_chain(drafts: list[int], ps: torch.Tensor, qs: torch.Tensor, generator: torch.Generator) -> tuple[int, int]:
    """Step 3: how many of ``drafts`` the target accepts, and the token that follows them.

    ``ps[i]``/``qs[i]`` are ``p_{i+1}``/``q_{i+1}``, with one more row of ``ps`` for the bonus token.
    ``x_i`` is accepted with probability ``min(1, p_i(x_i) / q_i(x_i))``; the first rejected one is
    replaced by a draw from ``norm(max(0, p_i - q_i))``; if all pass, the bonus comes from ``p_{k+1}``.
    """
    for i, x in enumerate(drafts):
        if not accept(ps[i, x], qs[i, x], generator):
            return i, sample(residual(ps[i], qs[i]), generator)
    return len(drafts), sample(ps[len(drafts)], generator)


def chain_nodes(
    step: int,
    drafts: list[int],
    q_logits: torch.Tensor,
    p_logits: torch.Tensor,
    n_accepted: int,
    temperature: float,
) -> list[NodeRecord]:
    """One node record per drafted token of a chain step; node ``i`` has depth ``i + 1`` and parent ``i - 1``.

    ``q_logits`` and ``p_logits`` hold one row per drafted token (extra rows of ``p_logits`` are ignored).
    """
    k = len(drafts)
    q = record_distribution(q_logits[:k], temperature)
    p = record_distribution(p_logits[:k], temperature)
    index = torch.tensor(drafts, device=q.device)[:, None]
    columns = zip(
        q.gather(1, index)[:, 0].tolist(), entropy(q).tolist(), p.gather(1, index)[:, 0].tolist(), entropy(p).tolist()
    )
    return [
        NodeRecord(step, i + 1, x, q_x, h_q, p_x, h_p, accepted=i < n_accepted, parent=i - 1, rank=0, on_path=i < n_accepted)
        for i, (x, (q_x, h_q, p_x, h_p)) in enumerate(zip(drafts, columns))
    ]


def speculative_generate(
    draft: Drafter | PreTrainedModel,
    target: PreTrainedModel,
    input_ids: torch.Tensor,
    max_new_tokens: int,
    *,
    gamma: int | None = None,
    temperature: float = 0.0,
    seed: int | None = None,
    eos_token_id: int | None = None,
    stop: StopRule | None = None,
) -> GenerationResult:
    """Generate ``max_new_tokens`` tokens from ``target``, ``gamma`` draft tokens at a time. Batch size 1.

    ``draft`` is any :class:`~specdec_lite.drafters.Drafter` (e.g. the model-free
    :class:`~specdec_lite.lookup.PromptLookup`) or a model sharing the target's vocabulary.

    With a ``stop`` rule (dynamic speculation, :mod:`specdec_lite.dynamic`) ``gamma`` is the most a step
    drafts: the chain ends after the first token the rule is unsure of. With neither ``gamma`` nor ``stop``, a
    course pair's draft model drafts by its committed fitted rule and anything else 4 tokens a step
    (:func:`~specdec_lite.dynamic.default_chain`); a ``stop`` without ``gamma`` drafts at most 4. Pass ``gamma``
    for a fixed chain, as the lessons do.

    Lossless: the output has the target's distribution at ``temperature`` (its greedy output at 0).
    Near the end a step drafts fewer tokens, so that no step can overshoot ``max_new_tokens``.
    """
    if gamma is None:
        gamma, stop = default_chain(draft, target) if stop is None else (DEFAULT_GAMMA, stop)
    drafter = as_drafter(draft)
    drafter.start(tree=False)
    max_new_tokens, temperature, gamma = check_generation_args(max_new_tokens, temperature, gamma)
    stop = check_stop(stop)
    check_pair(drafter, target)
    prompt = check_prompt(input_ids, max_new_tokens, target, *drafter.models)
    eos_token_id = check_eos(eos_token_id, target)
    generator = make_generator(seed)
    sequence, target_cache = prompt.tolist(), new_cache()
    record, done = Recorder(), False
    with eval_mode(*drafter.models, target):
        while not done:
            step = record.start_step()
            remaining = max_new_tokens - (len(sequence) - len(prompt))
            # 1. the drafter proposes x_1 .. x_k with q_1 .. q_k (fewer than asked: no match, or the stop rule)
            drafts, q_logits = drafter.draft(sequence, min(gamma, remaining - 1), temperature, generator, stop)
            k = len(drafts)
            # 2. one target pass over the unseen tokens and x_1 .. x_k gives p_1 .. p_{k+1}
            past = cache_length(target_cache)
            unseen = torch.tensor(sequence[past:] + drafts, device=prompt.device)
            scores = score(target, unseen, target_cache, features=drafter.wants_features)
            p_logits = scores.logits[-(k + 1):]
            # 3. accept x_i with probability min(1, p_i(x_i) / q_i(x_i)); a residual draw or a bonus token ends the step
            ps, qs = distribution(p_logits, temperature), distribution(q_logits.to(p_logits.device), temperature)
            n_accepted, next_token = accept_chain(drafts, ps, qs, generator)
            kept, done = clip_new_tokens(drafts[:n_accepted] + [next_token], remaining, eos_token_id)
            sequence += kept
            # 4. both caches keep the sequence minus its newest token; the drafter may read the kept tokens' features
            crop_cache(target_cache, len(sequence) - 1)
            drafter.rollback(len(sequence) - 1, scores.features_at(list(range(len(sequence) - 1 - past))))
            record.end_step(k, n_accepted, len(kept), cache_length(target_cache), drafter.cache_length(), draft_calls=k,
                            nodes=chain_nodes(step, drafts, q_logits, p_logits, n_accepted, temperature))
    return record.finish(sequence[len(prompt):])
