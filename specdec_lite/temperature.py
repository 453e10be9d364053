"""Acceptance against temperature: how often a drafted token survives as p and q are sharpened or flattened.

At temperature ``T`` the target samples from ``p_T = softmax(z_p / T)`` and the draft from
``q_T = softmax(z_q / T)``. A drafted ``x ~ q_T`` is kept with probability ``min(1, p_T(x) / q_T(x))``, so
at one position the chance that the draft's token is accepted is

    beta(T) = sum_x q_T(x) min(1, p_T(x) / q_T(x)) = sum_x min(p_T(x), q_T(x)) = 1 - TV(p_T, q_T),

Leviathan et al.'s beta, one minus the total variation distance. Its two limits:

* ``T -> 0``: both become point masses on their argmax, and beta is 1 where the two argmaxes agree and 0
  elsewhere: greedy acceptance (:func:`specdec_lite.sampling.distribution` builds these point masses, so
  ``T = 0`` is computed exactly, not approximated);
* ``T -> infinity``: both flatten towards the uniform distribution over the vocabulary and beta -> 1.

In between, nothing forces beta to be monotone: sharpening pulls each model onto its top tokens (beta rises
where they share one and falls where they do not), flattening spreads both over many tokens where they may
disagree. Which effect wins depends on the pair and the text, so it is measured:

* :func:`acceptance_curve` - beta(T) at every position of given texts, teacher-forced (both models read the
  same tokens: here the target's own greedy answers to the study's prompts), per domain;
* :func:`sampled_acceptance` - alpha of chain speculative decoding run at each ``T`` (accepted over tested
  first-choice nodes, :func:`specdec_lite.theory.alpha_from_nodes`), per domain. Its expectation at a position
  is beta(T) there, but at the positions sampled decoding visits, not at the greedy text's.

Both report a percentile bootstrap CI over texts (prompts), the unit that is independent: positions of one
text are not.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from .autoregressive import autoregressive_generate
from .calls import eval_mode, forward, model_device, new_cache
from .sampling import distribution
from .speculative import speculative_generate
from .statistics import ratio_ci
from .theory import nodes_tested

__all__ = ["overlap", "teacher_forced_logits", "greedy_answers", "acceptance_curve", "sampled_acceptance"]


def overlap(p_logits: torch.Tensor, q_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``beta = sum_x min(p_T(x), q_T(x))`` for each row of ``(..., V)`` logits; at ``T = 0`` argmax agreement (0 or 1)."""
    p = distribution(p_logits.double(), temperature).double()
    q = distribution(q_logits.double(), temperature).double()
    return torch.minimum(p, q).sum(dim=-1)


@torch.inference_mode()
def teacher_forced_logits(draft, target, prompt_ids: torch.Tensor, answer: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``(len(answer), V)`` logits of target and draft at each answer position, both reading the same tokens.

    Row ``i`` is each model's prediction of ``answer[i]`` from the prompt and ``answer[:i]``: one forward pass
    of each model over the prompt and the answer (minus its last token).
    """
    device = model_device(target)
    tokens = torch.cat([prompt_ids.to(device), torch.tensor(answer[:-1], dtype=torch.long, device=device)])
    start = len(prompt_ids) - 1
    with eval_mode(draft, target):
        p_logits = forward(target, tokens, new_cache())[start:]
        q_logits = forward(draft, tokens.to(model_device(draft)), new_cache())[start:]
    return p_logits.float().cpu(), q_logits.float().cpu()


@dataclass
class Text:
    """One text to score: its prompt's id and domain, the prompt's token ids and the answer's."""

    prompt_id: str
    domain: str
    prompt_ids: torch.Tensor
    answer: list[int]


def greedy_answers(pair, prompts, max_new_tokens: int) -> list[Text]:
    """The target's own greedy answer to each prompt (``pair.encode``d), stopping at its end token."""
    eos = pair.eos_token_id
    texts = []
    for prompt in prompts:
        ids = pair.encode(prompt.prompt)
        answer = autoregressive_generate(pair.target, ids, max_new_tokens, eos_token_id=eos).tokens.tolist()
        texts.append(Text(prompt.id, prompt.domain, ids, answer))
    return texts


def _summarise(rows: pd.DataFrame, value: str, count: str, seed: int) -> pd.DataFrame:
    """Per (temperature, domain) and over all domains: the pooled rate sum(value)/sum(count) and its CI over texts."""
    out = []
    for domain, of_domain in [*rows.groupby("domain"), ("all", rows)]:
        for temperature, group in of_domain.groupby("temperature"):
            low, high = ratio_ci(group[value], group[count], seed=seed)
            out.append({"temperature": float(temperature), "domain": domain, "texts": len(group),
                        count: int(group[count].sum()), "rate": float(group[value].sum() / group[count].sum()),
                        "low": low, "high": high})
    return pd.DataFrame(out).sort_values(["domain", "temperature"], ignore_index=True)


def acceptance_curve(pair, texts: list[Text], temperatures, *, seed: int = 0) -> pd.DataFrame:
    """beta(T) for each temperature and domain, pooled over every answer position of ``texts``.

    Columns: ``temperature``, ``domain`` (and ``"all"``), ``texts``, ``positions``, ``rate`` (mean beta over
    the positions), ``low``/``high`` (95% bootstrap CI over texts).
    """
    rows = []
    for text in texts:
        if len(text.answer) < 1:
            continue
        p_logits, q_logits = teacher_forced_logits(pair.draft, pair.target, text.prompt_ids, text.answer)
        for temperature in temperatures:
            beta = overlap(p_logits, q_logits, temperature)
            rows.append({"prompt_id": text.prompt_id, "domain": text.domain, "temperature": float(temperature),
                         "beta_sum": float(beta.sum()), "positions": len(beta)})
    return _summarise(pd.DataFrame(rows), "beta_sum", "positions", seed)


def sampled_acceptance(pair, prompts, temperatures, *, gamma: int = 4, max_new_tokens: int = 48,
                       seed: int = 0) -> pd.DataFrame:
    """alpha of chain speculative decoding at each temperature and domain, pooled over the prompts' tested nodes.

    Prompt ``i`` is decoded with seed ``seed + i`` at every temperature. Columns as :func:`acceptance_curve`,
    with ``tested`` (first-choice nodes whose parent was accepted) in place of ``positions``.
    """
    eos = pair.eos_token_id
    rows = []
    for i, prompt in enumerate(prompts):
        ids = pair.encode(prompt.prompt)
        for temperature in temperatures:
            result = speculative_generate(pair.draft, pair.target, ids, max_new_tokens, gamma=gamma,
                                          temperature=temperature, seed=seed + i, eos_token_id=eos)
            nodes = result.nodes_frame()
            tested = nodes_tested(nodes) if len(nodes) else pd.Series(dtype=bool)
            rows.append({"prompt_id": prompt.id, "domain": prompt.domain, "temperature": float(temperature),
                         "accepted": int((nodes["accepted"] & tested).sum()) if len(nodes) else 0,
                         "tested": int(tested.sum())})
    return _summarise(pd.DataFrame(rows), "accepted", "tested", seed)
