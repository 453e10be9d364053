"""The course's tiny pair: corpus builder, shared tokenizer, the shipped checkpoints, and the training code."""

import importlib
import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from specdec_lite.pairs import TINY_DIR
from specdec_lite.prompts import load_prompts
from training.corpus import DOMAINS, build_corpus
from training.trainer import Schedule, fit, lr_at

MAX_SHIPPED_BYTES = 40 * 1000 * 1000
CHECKPOINTS = [TINY_DIR / "target", TINY_DIR / "draft"]
trained = pytest.mark.skipif(
    not all((d / "model.safetensors").exists() for d in CHECKPOINTS),
    reason="the pair is not trained yet: run `python -m training.train_tiny`",
)


def test_corpus_is_deterministic_for_a_seed():
    first, again = build_corpus(seed=3, chars_per_domain=3000), build_corpus(seed=3, chars_per_domain=3000)
    assert first == again
    assert set(first) == set(DOMAINS)
    for splits in first.values():
        assert splits["train"] and splits["held_out"]


def test_corpus_changes_with_the_seed():
    one, two = build_corpus(seed=1, chars_per_domain=3000), build_corpus(seed=2, chars_per_domain=3000)
    assert all(one[d]["train"] != two[d]["train"] for d in ("math", "logic"))


def test_tokenizer_round_trips_text():
    tokenizer = AutoTokenizer.from_pretrained(TINY_DIR / "tokenizer")
    text = 'def f(x):\n    """Twice x."""\n    return 2 * x  # ünïcödé, tabs\tand 3.5 €\n'
    assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text
    assert {tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token} == {"<s>", "</s>", "<pad>"}


@trained
def test_checkpoints_load_and_share_the_vocabulary():
    tokenizer = AutoTokenizer.from_pretrained(TINY_DIR / "tokenizer")
    for directory in CHECKPOINTS:
        model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
        assert model.config.model_type == "llama"
        assert model.config.vocab_size == len(tokenizer)
        assert model.config.eos_token_id == tokenizer.eos_token_id


@trained
def test_shipped_weights_fit_the_size_goal():
    files = [f for part in ("tokenizer", "target", "draft") for f in (TINY_DIR / part).rglob("*") if f.is_file()]
    assert sum(f.stat().st_size for f in files) <= MAX_SHIPPED_BYTES


@trained
def test_training_log_has_loss_curves():
    log = json.loads((TINY_DIR / "training_log.json").read_text())
    for model in ("target", "draft"):
        assert log[model]["loss"][-1]["loss"] < log[model]["loss"][0]["loss"]


def test_no_prompt_occurs_in_the_training_corpus():
    log = json.loads((TINY_DIR / "training_log.json").read_text()) if (TINY_DIR / "training_log.json").exists() else {}
    corpus = build_corpus(log.get("seed", 0), log.get("chars_per_domain", 2_000_000))
    text = "\n".join(doc for splits in corpus.values() for doc in splits["train"])
    leaked = [p.id for p in load_prompts(prompt_set="tiny") if p.prompt in text]
    assert not leaked, f"prompts found verbatim in the training corpus: {leaked}"


def _fake_reports():
    """A training log and an evaluation report of the shapes the training and evaluation runs write."""
    shape = {"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 1, "intermediate_size": 16}
    loss = [{"step": 0, "loss": 8.0, "seconds": 1.0}, {"step": 9, "loss": 2.0, "seconds": 9.0}]
    log = {
        "seed": 0, "chars_per_domain": 1000, "vocab_size": 300, "batch": 2, "length": 8,
        "corpus_tokens": {d: {"train": 100, "held_out": 10} for d in DOMAINS},
        "target": {"shape": shape, "steps": 10, "loss": loss},
        "draft": {"shape": shape, "steps": 10, "objective": "forward KL to the target", "loss": loss},
    }
    domain = {"prompts": 2, "drafted": 8, "accepted": 4, "acceptance_rate": 0.5, "accepted_per_step": 2.0,
              "tokens_per_target_call": 3.0}
    ev = {
        "command": "python -m training.evaluate_tiny", "threads": 1, "load_seconds": 0.5, "shipped_mb": 1.0,
        "parameters": {"target": 1000, "draft": 100},
        "cost": {"draft_ms": 1.0, "target_ms": 10.0, "verify_tokens": 5, "target_ms_verify": 12.0, "c": 0.1},
        "perplexity": {d: {"documents": 2, "documents_also_in_train": 1, "tokens": 10, "target": 3.0, "draft": 4.0}
                       for d in DOMAINS},
        "acceptance": {**{d: domain for d in DOMAINS}, "all": {"acceptance_rate": 0.5}, "gamma": 4},
        "speedup_chat": {"prompts": 2, "new_tokens": 8, "median_speedup_by_gamma": {"1": 1.2, "2": 1.6},
                         "best_gamma": 2, "best_speedup": 1.6, "target_alone_tokens_per_s": 100.0},
        "samples": {d: {"id": f"{d}-001", "prompt": "P:", "continuation": " text"} for d in DOMAINS},
    }
    return log, ev


def test_model_card_renders_every_section_and_goal_verdict():
    from training.card_tiny import render

    log, ev = _fake_reports()
    card = render(log, ev)
    for heading in ("## Data", "## Models", "## Training", "## Measurements", "### Acceptance per domain"):
        assert heading in card
    assert "c = 0.100** (within the 0.15" in card and "1.60x at gamma 2** (reaching" in card
    ev["cost"]["c"] = 0.2
    assert "c = 0.200** (NOT within the 0.15" in render(log, ev)


ENTRY_POINTS = ["train_tiny", "evaluate_tiny", "prompts_tiny", "train_smol", "evaluate_smol", "prompts_chat",
                "instructions", "features", "train_features", "evaluate_features"]


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_training_entry_points_answer_help(module, capsys):
    """``python -m training.<module> --help`` prints its usage and does nothing else (no file is written)."""
    with pytest.raises(SystemExit) as stop:
        importlib.import_module(f"training.{module}").main(["--help"])
    assert stop.value.code == 0 and "usage:" in capsys.readouterr().out


def test_one_schedule_for_both_pairs():
    """Linear warm-up to the peak, then cosine decay to the floor: the tiny pair's and the SmolLM2 draft's settings."""
    for schedule, steps in ((Schedule(peak=1e-3, warmup=100, floor=0.1), 800),
                            (Schedule(peak=2e-3, warmup=200, floor=0.05), 4000)):
        assert lr_at(0, steps, schedule) == pytest.approx(schedule.peak / schedule.warmup)
        assert lr_at(schedule.warmup, steps, schedule) == pytest.approx(schedule.peak)
        assert lr_at(steps, steps, schedule) == pytest.approx(schedule.floor * schedule.peak)
        rates = [lr_at(step, steps, schedule) for step in range(schedule.warmup, steps)]
        assert all(later <= earlier for earlier, later in zip(rates, rates[1:]))


def test_shared_loop_learns_and_logs():
    """The loop both trainers use lowers a loss, logs every ``log_every`` steps and the last, in eval mode after."""
    torch.manual_seed(0)
    model, x = torch.nn.Linear(4, 1), torch.randn(32, 4)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])

    def loss_at(step):
        loss = torch.nn.functional.mse_loss(model(x), y)
        return loss, {"twice": 2 * loss.detach()}

    log = fit(model, loss_at, 60, Schedule(peak=0.1, warmup=5, floor=0.1), weight_decay=0.0, log_every=25, label="t")
    assert [entry["step"] for entry in log] == [0, 25, 50, 59] and not model.training
    assert list(log[0]) == ["step", "loss", "twice", "seconds"] and log[-1]["loss"] < log[0]["loss"] / 10
