"""The baseline: one target forward pass per new token, with a KV cache."""

from __future__ import annotations

import torch
from transformers import PreTrainedModel

from .calls import cache_length, eval_mode, forward, new_cache
from .checks import check_eos, check_generation_args, check_prompt
from .results import GenerationResult, Recorder
from .sampling import distribution, make_generator, sample
from .stopping import clip_new_tokens

__all__ = ["autoregressive_generate"]


def autoregressive_generate(
    target: PreTrainedModel,
    input_ids: torch.Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 0.0,
    seed: int | None = None,
    eos_token_id: int | None = None,
) -> GenerationResult:
    """Decode ``max_new_tokens`` tokens (fewer if ``eos_token_id`` comes first) from ``p`` alone.

    Each step feeds the newest token, reads ``p = distribution(logits, temperature)`` and samples
    one token from it (the argmax at temperature 0). Batch size 1; the target runs in eval mode.
    """
    max_new_tokens, temperature, _ = check_generation_args(max_new_tokens, temperature)
    prompt = check_prompt(input_ids, max_new_tokens, target)
    eos_token_id = check_eos(eos_token_id, target)
    generator = make_generator(seed)
    sequence, cache = prompt.tolist(), new_cache()
    record, done = Recorder(), False
    with eval_mode(target):
        while not done:
            record.start_step()
            pending = torch.tensor(sequence[cache_length(cache):], device=prompt.device)
            logits = forward(target, pending, cache)[-1]
            token = sample(distribution(logits, temperature), generator)
            kept, done = clip_new_tokens([token], max_new_tokens - (len(sequence) - len(prompt)), eos_token_id)
            sequence += kept
            record.end_step(0, 0, len(kept), cache_length(cache))
    return record.finish(sequence[len(prompt):])
