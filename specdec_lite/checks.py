"""Input checks shared by the decoders. Each error says what was wrong and what to do instead."""

from __future__ import annotations

import torch
from transformers import PreTrainedModel

from .models import model_device

__all__ = ["check_generation_args", "check_prompt", "check_pair"]


def check_generation_args(max_new_tokens: int, temperature: float, gamma: int | None = None) -> None:
    """Reject counts below 1 and negative temperatures."""
    if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be an integer >= 1, got {max_new_tokens!r}.")
    if gamma is not None and (not isinstance(gamma, int) or gamma < 1):
        raise ValueError(
            f"gamma (tokens drafted per step) must be an integer >= 1, got {gamma!r}; "
            "use autoregressive_generate for decoding without a draft."
        )
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}; use 0 for greedy decoding.")


def _context_length(model) -> int | None:
    return getattr(getattr(model, "config", None), "max_position_embeddings", None)


def check_prompt(input_ids: torch.Tensor, max_new_tokens: int, *models: PreTrainedModel) -> torch.Tensor:
    """Return the prompt as a 1-D LongTensor on the models' device, or raise a clear error.

    Accepts shape ``(n,)`` or ``(1, n)``. Only batch size 1 is supported: the decoders accept a
    different number of tokens per sequence at each step, so a batch would need per-row caches.
    """
    if not isinstance(input_ids, torch.Tensor):
        raise TypeError(
            f"input_ids must be a torch.Tensor of token ids, got {type(input_ids).__name__}; "
            "use tokenizer(text, return_tensors='pt').input_ids."
        )
    if input_ids.dim() == 2:
        if input_ids.shape[0] != 1:
            raise ValueError(
                f"input_ids has batch size {input_ids.shape[0]}, but only batch size 1 is supported; "
                "call the decoder once per prompt."
            )
        input_ids = input_ids[0]
    if input_ids.dim() != 1 or input_ids.numel() == 0:
        raise ValueError(f"input_ids must hold at least one token, shape (n,) or (1, n); got {tuple(input_ids.shape)}.")
    if input_ids.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"input_ids must hold integer token ids, got dtype {input_ids.dtype}.")
    for model in models:
        context = _context_length(model)
        if context is not None and input_ids.numel() + max_new_tokens > context:
            name = type(model).__name__
            raise ValueError(
                f"the prompt has {input_ids.numel()} tokens and max_new_tokens is {max_new_tokens}, but {name} "
                f"has a context of {context} tokens; shorten the prompt or lower max_new_tokens so that "
                f"their sum is at most {context}."
            )
    return input_ids.to(device=model_device(models[0]), dtype=torch.long)


def check_pair(draft: PreTrainedModel, target: PreTrainedModel) -> None:
    """A draft can serve a target only if they share a vocabulary size and a device (a model-free drafter has none)."""
    v_draft = getattr(draft, "vocab_size", None) or draft.config.vocab_size
    v_target = target.config.vocab_size
    if v_draft != v_target:
        raise ValueError(
            f"the draft has a vocabulary of {v_draft} tokens and the target {v_target}; speculative decoding "
            "compares their distributions token by token, so pick a draft that shares the target's tokenizer."
        )
    if not isinstance(draft, torch.nn.Module):
        return
    d_draft, d_target = model_device(draft), model_device(target)
    if d_draft != d_target:
        raise ValueError(
            f"the draft is on {d_draft} and the target on {d_target}; move both to one device, e.g. "
            f"draft.to('{d_target}')."
        )
