"""The acceptance rule of speculative sampling, as small pure functions.

Notation (used across the package): ``p`` is the target's next-token distribution and ``q`` the
draft's, both *after* temperature, i.e. exactly the distributions the tokens are sampled from.

The rule (Leviathan et al. 2023; Chen et al. 2023 swap the letters p and q):

* a drafted token ``x ~ q`` is accepted with probability ``min(1, p(x) / q(x))``;
* on rejection, the replacement is drawn from the residual ``norm(max(0, p - q))``;
* together the two branches produce exactly ``p``: for every token ``y``,
  ``q(y) min(1, p(y)/q(y)) + (1 - sum_x min(p(x), q(x))) * residual(y) = p(y)``.

Greedy decoding (temperature 0) is the special case in which ``p`` and ``q`` are point masses on
their argmax: the rule then accepts ``x`` exactly when it is the target's argmax, and the residual is
the point mass on the target's argmax. :func:`distribution` builds those point masses, so a decoder can
use one code path for both cases.

Every random decision consumes one uniform from a :class:`torch.Generator` that the caller seeds
once. Nothing here seeds or reseeds anything.
"""

from __future__ import annotations

import torch

from .checks import check_seed, check_temperature

__all__ = [
    "distribution",
    "record_distribution",
    "point_mass",
    "entropy",
    "acceptance_probability",
    "residual",
    "sample",
    "accept",
    "make_generator",
]


def point_mass(index: int | torch.Tensor, size: int, *, device: torch.device | str = "cpu") -> torch.Tensor:
    """A distribution over ``size`` tokens that puts all its mass on ``index``."""
    probs = torch.zeros(size, dtype=torch.float32, device=device)
    probs[int(index)] = 1.0
    return probs


def distribution(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """The distribution a decoder samples from: ``softmax(logits / T)``, or a point mass when ``T == 0``.

    ``logits`` has shape ``(..., V)``; the result is float32 with the same shape. At ``T == 0`` the
    mass sits on the argmax (the first one on ties, as ``torch.argmax`` and ``generate`` choose).
    """
    temperature = check_temperature(temperature)
    logits = logits.float()
    if temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(dim=-1), logits.shape[-1]).float()
    scaled = logits / temperature
    if torch.isposinf(scaled).any() and not torch.isposinf(logits).any():
        raise ValueError(f"temperature {temperature!r} is so small that logits / temperature overflows float32; "
                         "use 0 for greedy decoding (the limit of a vanishing temperature).")
    return torch.softmax(scaled, dim=-1)


def record_distribution(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """The distribution node records describe: the sampling one, or the plain softmax when greedy.

    At ``T == 0`` the point masses carry no information, so records (and a tree's best-first scores) read
    ``softmax(logits)`` instead, the distribution at temperature 1.
    """
    return distribution(logits, temperature if temperature > 0 else 1.0)


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """Shannon entropy in nats, ``-sum p log p`` over the last dimension (0 log 0 counts as 0)."""
    return -(probs * torch.log(probs.clamp_min(1e-30))).sum(dim=-1)


def acceptance_probability(p_x: float | torch.Tensor, q_x: float | torch.Tensor) -> torch.Tensor:
    """``min(1, p(x) / q(x))`` for a token ``x`` that was drawn from ``q`` (so ``q(x) > 0``).

    Point masses fit in: ``p(x) = 1`` gives 1 (always accept), ``p(x) = 0`` gives 0 (always reject).
    """
    p_x = torch.as_tensor(p_x, dtype=torch.float32)
    q_x = torch.as_tensor(q_x, dtype=torch.float32)
    if torch.any(q_x <= 0):
        raise ValueError("q(x) must be positive: x has to be a token the draft could have sampled.")
    return torch.clamp(p_x / q_x, max=1.0)


def residual(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """The distribution to sample from after a rejection: ``norm(max(0, p - q))``.

    If ``p <= q`` everywhere (which happens only when ``p == q``, and then nothing is ever rejected)
    the residual is undefined; ``p`` itself is returned, which keeps the result a distribution.
    """
    diff = torch.clamp(p - q, min=0.0)
    total = diff.sum(dim=-1, keepdim=True)
    return torch.where(total > 0, diff / total.clamp_min(1e-30), p)


def sample(probs: torch.Tensor, generator: torch.Generator) -> int:
    """Draw one token from a 1-D distribution with a single uniform (inverse-CDF sampling).

    The uniform comes from ``generator`` on the CPU, so a seed gives the same tokens on every device.
    """
    u = torch.rand((), generator=generator, dtype=torch.float64)
    cdf = torch.cumsum(probs.detach().double().cpu(), dim=0)
    index = int(torch.searchsorted(cdf, u * cdf[-1], right=True))
    return min(index, probs.shape[0] - 1)


def accept(p_x: float, q_x: float, generator: torch.Generator) -> bool:
    """Decide one drafted token: accept with probability ``min(1, p(x)/q(x))``, using one uniform."""
    u = torch.rand((), generator=generator, dtype=torch.float64)
    return bool(u < acceptance_probability(p_x, q_x).double())


def make_generator(seed: int | None) -> torch.Generator:
    """The one CPU generator a decoder draws all its uniforms from, seeded once (randomly if ``seed`` is None)."""
    seed = check_seed(seed)
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator
