"""What "lossless" means in low precision: speculative output against the target's own greedy output, per dtype.

In exact arithmetic greedy speculative decoding returns the target's greedy output token for token: every
emitted token is the target's argmax at its position, read off the verification pass. In floating point the
``k + 1``-token verification pass and a one-token step compute the same logits with different kernels (other
matrix shapes, other orders of summation), so they round differently. Where the target's two best logits
are nearly tied, the argmax can flip between the two computations, and from that token on the outputs go
separate ways (each is still a perfectly good greedy continuation of its own prefix). Float32 keeps 24 bits
of mantissa, so ties that close are rare on short texts; bfloat16 keeps 8, and they are common.

So "lossless" is a statement about exact arithmetic (and, at temperature > 0, about distributions): a low
precision run is exact only up to those flips. :func:`divergences` measures how often and where they happen:
for each prompt, the target's own greedy output and a speculative decoder's, in one dtype, the first
position where they differ, the two tokens there, and the *logit gap* between them, ``|z(a) - z(b)|``, read
from the target in float32 on the common prefix: a small gap says the flip was a near-tie, not a bug.
"""

from __future__ import annotations

import copy

import pandas as pd
import torch

from .autoregressive import autoregressive_generate
from .calls import eval_mode, forward, new_cache
from .speculative import speculative_generate
from .tree_speculative import tree_speculative_generate

__all__ = ["first_divergence", "logit_gap", "divergences"]


def first_divergence(a, b) -> int | None:
    """The first index where token sequences ``a`` and ``b`` differ (a shorter one differs where it ends); None if equal."""
    a, b = list(a), list(b)
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


@torch.inference_mode()
def logit_gap(target, prefix: torch.Tensor, a: int, b: int) -> tuple[float, float]:
    """``(|z(a) - z(b)|, z(top1) - z(top2))`` of ``target``'s next-token logits after ``prefix``, in float64."""
    with eval_mode(target):
        z = forward(target, prefix, new_cache())[-1].double()
    top = torch.topk(z, 2).values
    return float((z[a] - z[b]).abs()), float(top[0] - top[1])


def _decoders(gamma: int, depth: int, branching: int) -> dict:
    return {
        f"chain (gamma {gamma})": lambda d, t, ids, n, eos: speculative_generate(d, t, ids, n, gamma=gamma, eos_token_id=eos),
        f"tree (depth {depth}, branching {branching})": lambda d, t, ids, n, eos: tree_speculative_generate(
            d, t, ids, n, depth=depth, branching=branching, eos_token_id=eos),
    }


def divergences(pair, prompts, dtype: torch.dtype, *, max_new_tokens: int = 64, gamma: int = 4, depth: int = 3,
                branching: int = 2) -> pd.DataFrame:
    """Greedy speculative output against the target's own, both run in ``dtype``: one row per prompt and decoder.

    Columns: ``prompt_id``, ``domain``, ``dtype``, ``decoder``, ``equal`` (token for token), ``first`` (index of
    the first differing token, or None), ``tokens`` (the target's own output length), ``target_token`` and
    ``speculative_token`` there, ``gap`` (their logit difference in the float32 target on the common prefix)
    and ``top_gap`` (its best minus second-best logit there). The pair's float32 models are left as they were:
    the run uses copies cast to ``dtype``.
    """
    draft, target = copy.deepcopy(pair.draft).to(dtype), copy.deepcopy(pair.target).to(dtype)
    reference = pair.target  # float32, for the gaps
    eos = pair.eos_token_id
    rows = []
    for prompt in prompts:
        ids = pair.encode(prompt.prompt)
        own = autoregressive_generate(target, ids, max_new_tokens, eos_token_id=eos).tokens.tolist()
        for name, decode in _decoders(gamma, depth, branching).items():
            fast = decode(draft, target, ids, max_new_tokens, eos).tokens.tolist()
            first = first_divergence(own, fast)
            row = {"prompt_id": prompt.id, "domain": prompt.domain, "dtype": str(dtype).removeprefix("torch."),
                   "decoder": name, "equal": first is None, "first": first, "tokens": len(own),
                   "target_token": None, "speculative_token": None, "gap": None, "top_gap": None}
            if first is not None and first < min(len(own), len(fast)):
                prefix = torch.cat([ids, torch.tensor(own[:first], dtype=torch.long)])
                gap, top_gap = logit_gap(reference, prefix, own[first], fast[first])
                row.update(target_token=own[first], speculative_token=fast[first], gap=gap, top_gap=top_gap)
            rows.append(row)
    return pd.DataFrame(rows).astype({"gap": float, "top_gap": float})
