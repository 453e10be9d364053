"""Chain speculative decoding: the draft proposes ``gamma`` tokens, the target checks them in one pass.

One step, with ``p`` the target's distribution and ``q`` the draft's (both after temperature):

1. the draft samples ``x_1 .. x_k`` from ``q_1 .. q_k``, one cached draft call per token;
2. the target scores the unseen tokens and ``x_1 .. x_k`` in one forward pass, giving
   ``p_1 .. p_{k+1}``;
3. walking along the chain, ``x_i`` is accepted with probability ``min(1, p_i(x_i) / q_i(x_i))``;
   at the first rejection a replacement is drawn from ``norm(max(0, p_i - q_i))`` and the step ends;
   if all ``k`` pass, a bonus token is drawn from ``p_{k+1}``;
4. both caches are cut back to the accepted sequence (minus its newest token, which the next step feeds).

Every output token is distributed exactly as the target alone would produce it, and each step emits
between 1 and ``k + 1`` tokens for one target call. At temperature 0 the same code is greedy decoding.
"""

from __future__ import annotations

import time

import torch
from transformers import PreTrainedModel

from .checks import check_eos, check_generation_args, check_pair, check_prompt
from .drafters import Drafter, as_drafter
from .models import cache_length, crop_cache, eval_mode, new_cache, score
from .results import GenerationResult, NodeRecord, StepRecord
from .sampling import accept, distribution, entropy, make_generator, record_distribution, residual, sample
from .stopping import clip_new_tokens

__all__ = ["speculative_generate", "chain_nodes"]


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
    gamma: int = 4,
    temperature: float = 0.0,
    seed: int | None = None,
    eos_token_id: int | None = None,
) -> GenerationResult:
    """Generate ``max_new_tokens`` tokens from ``target``, ``gamma`` draft tokens at a time. Batch size 1.

    ``draft`` is any :class:`~specdec_lite.drafters.Drafter` (e.g. the model-free
    :class:`~specdec_lite.lookup.PromptLookup`) or a model sharing the target's vocabulary.

    Lossless: the output has the target's distribution at ``temperature`` (its greedy output at 0).
    Near the end a step drafts fewer tokens, so that no step can overshoot ``max_new_tokens``.
    """
    drafter = as_drafter(draft)
    drafter.start(tree=False)
    max_new_tokens, temperature, gamma = check_generation_args(max_new_tokens, temperature, gamma)
    check_pair(drafter, target)
    prompt = check_prompt(input_ids, max_new_tokens, target, *drafter.models)
    eos_token_id = check_eos(eos_token_id, target)
    generator = make_generator(seed)
    sequence, target_cache = prompt.tolist(), new_cache()
    result = GenerationResult(tokens=torch.empty(0, dtype=torch.long))
    start, done = time.perf_counter(), False
    with eval_mode(*drafter.models, target):
        while not done:
            t0, step = time.perf_counter(), len(result.steps)
            remaining = max_new_tokens - (len(sequence) - len(prompt))
            k = min(gamma, remaining - 1)
            drafts, q_logits = drafter.draft(sequence, k, temperature, generator)
            k = len(drafts)  # a model-free drafter may propose fewer
            result.draft_calls += k
            past = cache_length(target_cache)
            unseen = torch.tensor(sequence[past:] + drafts, device=prompt.device)
            scores = score(target, unseen, target_cache, features=drafter.wants_features)
            p_logits = scores.logits[-(k + 1):]
            result.target_calls += 1
            ps, qs = distribution(p_logits, temperature), distribution(q_logits.to(p_logits.device), temperature)
            n_accepted = 0
            for i, x in enumerate(drafts):
                if not accept(ps[i, x], qs[i, x], generator):
                    next_token = sample(residual(ps[i], qs[i]), generator)
                    break
                n_accepted += 1
            else:
                next_token = sample(ps[k], generator)
            result.nodes += chain_nodes(step, drafts, q_logits, p_logits, n_accepted, temperature)
            kept, done = clip_new_tokens(drafts[:n_accepted] + [next_token], remaining, eos_token_id)
            sequence += kept
            crop_cache(target_cache, len(sequence) - 1)
            drafter.rollback(len(sequence) - 1, scores.features_at(list(range(len(sequence) - 1 - past))))
            result.steps.append(StepRecord(
                step, k, n_accepted, len(kept), time.perf_counter() - t0,
                cache_length(target_cache), drafter.cache_length(),
            ))
    result.tokens = torch.tensor(sequence[len(prompt):], dtype=torch.long)
    result.wall_time = time.perf_counter() - start
    return result
