"""Low precision: speculative output against the target's own greedy output, and where the two part."""

from __future__ import annotations

import pytest
import torch

from specdec_lite import load_pair, load_prompts
from specdec_lite.precision import divergences, first_divergence, logit_gap


def test_first_divergence():
    assert first_divergence([1, 2, 3], (1, 2, 3)) is None
    assert first_divergence([1, 2, 3], [1, 5, 3]) == 1
    assert first_divergence([1, 2], [1, 2, 3]) == 2  # a shorter output differs where it ends
    assert first_divergence([], []) is None


@pytest.fixture(scope="module")
def tiny():
    return load_pair("tiny")


def test_logit_gap_reads_the_targets_logits(tiny):
    prefix = tiny.encode("def add(a, b):")
    with torch.inference_mode():
        z = tiny.target(prefix[None]).logits[0, -1].double()
    best, second = torch.topk(z, 2).indices.tolist()
    gap, top_gap = logit_gap(tiny.target, prefix, best, second)
    assert gap == pytest.approx(top_gap, rel=1e-5) and top_gap == pytest.approx(float(z[best] - z[second]), rel=1e-4)
    assert logit_gap(tiny.target, prefix, best, best)[0] == 0


def test_float32_speculation_equals_the_targets_greedy_output_and_the_pair_is_left_alone(tiny):
    prompts = [p for d in ("code", "math") for p in load_prompts(d, prompt_set="tiny")[:2]]
    rows = divergences(tiny, prompts, torch.float32, max_new_tokens=24)
    assert len(rows) == 8 and rows["equal"].all() and rows["first"].isna().all()
    assert rows["tokens"].between(1, 24).all()  # an answer may end early at the end token
    low = divergences(tiny, prompts[:1], torch.bfloat16, max_new_tokens=8)
    assert set(low["dtype"]) == {"bfloat16"}
    assert next(tiny.target.parameters()).dtype == torch.float32 and next(tiny.draft.parameters()).dtype == torch.float32
