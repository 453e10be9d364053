"""A learner's function as a drafter, so that the library's decoders can run it (lesson 9).

Lesson 9's first exercise is the proposal step of prompt lookup, ``propose(sequence, k, max_ngram, min_ngram)``.
:func:`lookup_drafter` wraps such a function into a :class:`~specdec_lite.lookup.PromptLookup` whose proposals
are the function's, so that ``speculative_generate`` decodes with the learner's code and the lesson can show
that the output is still the target's own greedy output. The lesson never imports ``PromptLookup`` itself: it
is the exercise's answer. Its fifth exercise is a stop rule, ``draft_until_unsure(next_q, sample, max_gamma,
threshold)``; :func:`stop_rule_drafter` runs it as a draft model's drafting loop. :func:`proposal` asks any
drafter what it would propose after a given sequence, as in a decoding step, so that a lesson can set several
drafters' guesses beside what the target wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel

from ..bench import hand_over
from ..calls import eval_mode, model_device, new_cache
from ..draft import next_draft_logits
from ..drafters import Drafter, ModelDrafter, as_drafter
from ..lookup import PromptLookup
from ..sampling import record_distribution, sample

__all__ = ["lookup_drafter", "stop_rule_drafter", "proposal"]


@dataclass(frozen=True)
class _LearnerLookup(PromptLookup):
    """Prompt lookup whose proposal step is ``proposer`` (called with a plain list of ints)."""

    proposer: Callable[[list[int], int, int, int], list[int]] | None = None

    def propose(self, sequence: list[int], k: int) -> list[int]:
        tokens = self.proposer(list(sequence), k, self.max_ngram, self.min_ngram)
        proposed = [int(t) for t in tokens]
        if len(proposed) > k or any(not 0 <= t < self.vocab_size for t in proposed):
            raise ValueError(f"the proposal function returned {len(proposed)} token(s) for k={k}, or ids outside "
                             f"the vocabulary of {self.vocab_size}: it must return at most k ids taken from the sequence.")
        return proposed


def lookup_drafter(propose: Callable[[list[int], int, int, int], list[int]], vocab_size: int, max_ngram: int = 3,
                   min_ngram: int = 1) -> PromptLookup:
    """A prompt-lookup drafter over ``vocab_size`` tokens whose proposals come from ``propose(sequence, k, max_ngram, min_ngram)``."""
    if not callable(propose):
        raise TypeError(f"propose must be a function (sequence, k, max_ngram, min_ngram) -> list of ids, "
                        f"not {type(propose).__name__}.")
    return _LearnerLookup(vocab_size, max_ngram, min_ngram, proposer=propose)


@dataclass
class _LearnerStopRule(ModelDrafter):
    """A draft model whose chain is grown by ``rule(next_q, sample, max_gamma, threshold)``."""

    rule: Callable | None = None
    threshold: float = 0.5

    def draft(self, sequence: list[int], k: int, temperature: float, generator: torch.Generator,
              stop=None) -> tuple[list[int], torch.Tensor]:
        device, rows = model_device(self.model), []

        def next_q(drafted) -> torch.Tensor:
            rows.append(next_draft_logits(self.model, self.cache, sequence, list(drafted)))
            return record_distribution(rows[-1], temperature).cpu()

        def draw(q: torch.Tensor) -> int:  # greedy: the argmax; else a draw from q, which is then softmax(logits / T)
            return int(torch.argmax(q)) if temperature == 0 else sample(q, generator)

        tokens = [int(t) for t in self.rule(next_q, draw, k, self.threshold)] if k else []
        if len(tokens) > k or len(rows) < len(tokens):
            raise ValueError(f"the stop rule returned {len(tokens)} token(s) after {len(rows)} call(s) of next_q, "
                             f"for max_gamma={k}: it must call next_q once per token it drafts, at most max_gamma.")
        return tokens, torch.stack(rows[:len(tokens)]) if tokens else torch.empty(0, self.vocab_size, device=device)


def stop_rule_drafter(draft: PreTrainedModel, rule: Callable, threshold: float) -> ModelDrafter:
    """``draft`` as a drafter whose chains ``rule(next_q, sample, max_gamma, threshold)`` grows (lesson 9, exercise 5).

    ``next_q(drafted)`` runs the draft once (on its cache) and returns ``q`` after the tokens drafted so far, as
    node records describe it (softmax; at a temperature, of the tempered logits); ``sample(q)`` is the token the
    decoder's draw gives (the argmax when greedy). The decoder's gamma is passed as ``max_gamma``.
    """
    if not callable(rule):
        raise TypeError(f"rule must be a function (next_q, sample, max_gamma, threshold) -> list of ids, "
                        f"not {type(rule).__name__}.")
    return _LearnerStopRule(draft, rule=rule, threshold=float(threshold))


def proposal(drafter: Drafter | PreTrainedModel, target: PreTrainedModel, sequence: list[int], k: int) -> list[int]:
    """The greedy chain of up to ``k`` tokens that ``drafter`` proposes after ``sequence``, as in a decoding step.

    :func:`~specdec_lite.bench.hand_over` has the target score every token but the newest (one call) and hand its
    features to a drafter that wants them, as the decoders do after a verification; then the drafter drafts at
    temperature 0.
    """
    drafter = as_drafter(drafter)
    drafter.start(tree=False)
    sequence = [int(t) for t in sequence]
    if len(sequence) < 2:
        raise ValueError(f"a proposal needs a sequence of at least 2 tokens (the target scores all but the newest), "
                         f"got {len(sequence)}.")
    with eval_mode(*drafter.models, target):
        hand_over(drafter, target, sequence, new_cache())
        tokens, _ = drafter.draft(sequence, k, 0.0, torch.Generator().manual_seed(0))
    return [int(t) for t in tokens]
