"""Input checks shared by the decoders, the benchmark, the study and the command line.

Each check returns the value in its plain Python type (numpy and torch scalars are accepted) or raises
a ``ValueError`` that says what was wrong and what to do instead. Booleans are never counts, seeds or
token ids, although Python treats them as integers.
"""

from __future__ import annotations

import math
import operator
from typing import TYPE_CHECKING

import numpy as np
import torch
from transformers import PreTrainedModel

from .calls import model_device

if TYPE_CHECKING:
    from .drafters import Drafter

__all__ = [
    "SEED_RANGE",
    "check_int",
    "check_temperature",
    "check_seed",
    "check_generation_args",
    "check_prompt",
    "check_eos",
    "check_pair",
    "vocab_size",
]

SEED_RANGE = (-(2**63), 2**64 - 1)  # what torch.Generator.manual_seed takes
SEED_TEXT = "None or an integer from -2**63 to 2**64 - 1"


def _as_int(value) -> int | None:
    """``value`` as an int when it is an integer (Python, numpy or a 0-d integer tensor) and not a boolean."""
    if isinstance(value, (bool, np.bool_)):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def check_int(name: str, value, minimum: int = 1, hint: str = "") -> int:
    """``value`` as an int ``>= minimum``, or a ValueError that names ``name`` (``hint`` says what to do)."""
    number = _as_int(value)
    if number is None or number < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}{'; ' + hint if hint else '.'}")
    return number


def check_temperature(temperature) -> float:
    """The temperature as a float: a finite number >= 0 (0 means greedy decoding)."""
    value = None
    if not isinstance(temperature, (bool, np.bool_, str)):
        try:
            value = float(temperature)
        except (TypeError, ValueError, RuntimeError):
            value = None
    if value is None or not math.isfinite(value) or value < 0:
        raise ValueError(f"temperature must be >= 0 and finite (a number), got {temperature!r}; use 0 for greedy "
                         "decoding, 1 to sample from the model's own distribution.")
    return value


def check_seed(seed) -> int | None:
    """The seed as an int (or None for a random one), within what ``torch.Generator.manual_seed`` takes."""
    if seed is None:
        return None
    number = _as_int(seed)
    if number is None or not SEED_RANGE[0] <= number <= SEED_RANGE[1]:
        raise ValueError(f"seed must be {SEED_TEXT}, got {seed!r}; pick a smaller seed, or None for a random one.")
    return number


def check_generation_args(max_new_tokens, temperature, gamma=None) -> tuple[int, float, int | None]:
    """``(max_new_tokens, temperature, gamma)`` checked and as plain Python numbers (``gamma`` may be None)."""
    max_new_tokens = check_int("max_new_tokens", max_new_tokens)
    if gamma is not None:
        gamma = check_int("gamma (tokens drafted per step)", gamma,
                          hint="use autoregressive_generate for decoding without a draft.")
    return max_new_tokens, check_temperature(temperature), gamma


def vocab_size(model: PreTrainedModel) -> int:
    """How many tokens the model scores: its config's vocabulary."""
    return model.config.vocab_size


def _context_length(model) -> int | None:
    return getattr(model.config, "max_position_embeddings", None)


def check_prompt(input_ids: torch.Tensor, max_new_tokens: int, *models: PreTrainedModel) -> torch.Tensor:
    """Return the prompt as a 1-D LongTensor on the models' device, or raise a clear error.

    Accepts shape ``(n,)`` or ``(1, n)``. Only batch size 1 is supported: the decoders accept a
    different number of tokens per sequence at each step, so a batch would need per-row caches.
    Every token id must lie in every model's vocabulary.
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
        size = vocab_size(model)
        outside = ((input_ids < 0) | (input_ids >= size)).nonzero()
        if len(outside):
            position = int(outside[0, 0])
            raise ValueError(
                f"input_ids holds token id {int(input_ids[position])} at position {position}, but "
                f"{type(model).__name__} has a vocabulary of {size} tokens (ids 0 to {size - 1}); encode the prompt "
                "with the tokenizer of this pair (e.g. pair.encode(text))."
            )
        context = _context_length(model)
        if context is not None and input_ids.numel() + max_new_tokens > context:
            name = type(model).__name__
            raise ValueError(
                f"the prompt has {input_ids.numel()} tokens and max_new_tokens is {max_new_tokens}, but {name} "
                f"has a context of {context} tokens; shorten the prompt or lower max_new_tokens so that "
                f"their sum is at most {context}."
            )
    return input_ids.to(device=model_device(models[0]), dtype=torch.long)


def check_eos(eos_token_id, model) -> int | None:
    """The end-of-sequence token as an int in the model's vocabulary, or None (generation runs to its budget)."""
    if eos_token_id is None:
        return None
    size = vocab_size(model)
    number = _as_int(eos_token_id)
    if number is None or not 0 <= number < size:
        raise ValueError(
            f"eos_token_id must be None or one token id from 0 to {size - 1} (the target has a vocabulary of {size} "
            f"tokens), got {eos_token_id!r}; pass the id that ends an answer, e.g. pair.eos_token_id, or None."
        )
    return number


def check_pair(drafter: Drafter, target: PreTrainedModel) -> None:
    """A drafter can serve a target only if they share a vocabulary size, and its models sit on the target's device."""
    v_draft, v_target = drafter.vocab_size, target.config.vocab_size
    if v_draft != v_target:
        raise ValueError(
            f"the draft has a vocabulary of {v_draft} tokens and the target {v_target}; speculative decoding "
            "compares their distributions token by token, so pick a draft that shares the target's tokenizer."
        )
    d_target = model_device(target)
    for model in drafter.models:
        d_draft = model_device(model)
        if d_draft != d_target:
            raise ValueError(
                f"the draft is on {d_draft} and the target on {d_target}; move both to one device, e.g. "
                f"draft.to('{d_target}')."
            )
