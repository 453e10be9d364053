"""The feature drafters' training: what each head and the EAGLE layer are taught, on which positions."""

from __future__ import annotations

import numpy as np
import torch

from specdec_lite.shortlist import TargetHead
from training.features import sequence_order, target_features
from training.train_features import batch, head_labels, split

from conftest import make_llama


def test_head_i_is_taught_the_choice_i_places_on_within_the_answer():
    # one sequence of 7 tokens whose answer is x_3 .. x_6: answer positions t = 2 .. 5
    choice = torch.tensor([[10, 11, 12, 13, 14, 15, 16]])
    answer = torch.tensor([[False, False, True, True, True, True, False]])
    assert head_labels(choice, answer, 1).tolist() == [13, 14, 15, -1]  # head 1 at h_t: x_{t+2}, chosen at t + 1
    assert head_labels(choice, answer, 3).tolist() == [15, -1, -1, -1]


def test_a_batch_scores_the_positions_whose_next_token_is_an_answer_token():
    target = make_llama(0, vocab=64, layers=1)
    seqs = [np.array([1, 2, 3, 4, 5, 6]), np.array([7, 8, 9, 10])]
    data = {"tokens": np.concatenate(seqs).astype(np.uint16), "starts": np.array([0, 6]), "prompt_len": np.array([2, 3]),
            "lengths": np.array([6, 4]), "domain": np.array([0, 1])}
    cache = dict(enumerate(target_features(target, seqs)))
    head = TargetHead.of(target, list(range(0, 64, 2)))
    feats, tokens, choice, mask, answer = batch(data, cache, [0, 1], head)
    assert answer.tolist() == [[False, True, True, True, True, False], [False, False, True, False, False, False]]
    assert mask.sum().item() == 10 and tokens[1, :4].tolist() == [7, 8, 9, 10]
    with torch.no_grad():
        full = target(input_ids=torch.tensor([seqs[0].tolist()]), output_hidden_states=True)
    torch.testing.assert_close(feats[0], full.hidden_states[-1][0], atol=1e-2, rtol=1e-2)  # float16 in the cache
    top = full.logits[0].argmax(-1)
    expected = torch.where(top % 2 == 0, top // 2, -1)  # the shortlist's index of the target's choice, -1 outside it
    assert choice[0].tolist() == expected.tolist()


def test_the_cache_order_takes_the_domains_in_turn_and_holds_out_every_50th():
    data = {"domain": np.repeat(np.arange(4), 30)}
    order = sequence_order(data)
    assert sorted(order.tolist()) == list(range(120))
    assert [int(data["domain"][r]) for r in order[:8]] == [0, 1, 2, 3, 0, 1, 2, 3]
    train, held = split(list(range(100)))
    assert held == [49, 99] and len(train) == 98


def test_the_feature_cards_are_what_the_committed_files_render(tmp_path):
    """Each card is rendered from the committed log, evaluation, comparison and policy run, so none can drift."""
    import json

    from specdec_lite.pairs import SMOL_DIR
    from training.card_features import POLICY, SPEED, WHAT, render, write_all

    ev = json.loads((SMOL_DIR / "features_eval.json").read_text())
    speed, policy = json.loads(SPEED.read_text()), json.loads(POLICY.read_text())
    for kind in WHAT:
        log = json.loads((SMOL_DIR / kind / "training_log.json").read_text())
        card = render(kind, log, ev, speed, policy)
        assert (SMOL_DIR / kind / "MODEL_CARD.md").read_text() == card, "run `python -m training.card_features`"
        best = speed["budgets"]["best_per_domain"]["code"]
        assert f"{best['speedup']:.2f}x ({best['drafter']})" in card
        assert f"{speed['study']['drafters'][kind]['math']['speedup']:.2f}x" in card
    for kind in WHAT:  # a copy of the zoo without the comparison's files renders cards without a speed section
        (tmp_path / kind).mkdir()
        (tmp_path / kind / "training_log.json").write_text((SMOL_DIR / kind / "training_log.json").read_text())
    write_all(tmp_path, ev, speed_file=tmp_path / "absent.json", policy_file=tmp_path / "absent.json")
    assert "## Speed" not in (tmp_path / "eagle" / "MODEL_CARD.md").read_text()


def test_the_card_says_where_the_policy_chose_the_drafter():
    from training.card_features import _policy

    summary = [{"domain": d, "domain_drafter_choice": choice, "domain_drafter_speedup": 1.0, "fixed_speedup": 0.9}
               for d, choice in zip(("code", "math", "logic", "chat", "all"),
                                    ("lookup, gamma 6", "eagle, gamma 3", "lookup_eagle, gamma 4", "draft, gamma 2", None))]
    policy = {"command": "run", "result": {"summary": summary}}
    assert _policy("eagle", policy).endswith("this drafter was chosen in math, logic.")
    assert _policy("medusa", policy).endswith("this drafter was never chosen.")
