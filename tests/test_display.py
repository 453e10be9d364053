"""The step-by-step view marks what the draft got right and what the target supplied."""

from __future__ import annotations

import re

import torch

from specdec_lite import speculative_generate
from specdec_lite.display import describe_steps

from conftest import make_llama, noisy_copy


class DigitTokenizer:
    """Decodes token ids as space-separated numbers."""

    def decode(self, ids):
        return "".join(f" {i}" for i in ids)


def test_describe_steps_accounts_for_every_token():
    target = make_llama(0)
    result = speculative_generate(noisy_copy(target, 0.3, seed=1), target, torch.arange(4)[None], 20, gamma=3)
    text = describe_steps(result, DigitTokenizer())
    lines = text.splitlines()
    assert len(lines) == len(result.steps)
    bodies = [re.sub(r"^step +\d+: accepted \d+/\d+  ", "", line) for line in lines]
    shown = [int(t) for body in bodies for t in body.replace("[", " ").replace("]", " ").split()]
    assert shown == result.tokens.tolist()
    first = result.steps[0]
    assert lines[0].startswith(f"step   0: accepted {first.accepted}/{first.drafted}")
