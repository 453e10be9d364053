"""Measure the course's tiny pair: ``python -m training.evaluate_tiny [--dir DIR] [--threads N] ...``.

Writes ``eval.json`` next to the checkpoints (``specdec_lite/zoo/tiny/`` by default) with:

* ``load_seconds`` - ``from_pretrained`` of tokenizer, target and draft (median of 3);
* ``shipped_mb`` - bytes of the three folders;
* ``cost`` - as :mod:`specdec_lite.bench` measures it, after warm-up rounds: median ms of one cached
  forward pass (64-token context) of the draft and of the target for 1 token
  (:func:`specdec_lite.bench.cost_coefficient`), of the target for ``gamma + 1`` tokens (a verification,
  :func:`specdec_lite.bench.step_time`), and ``c = T(draft, 1) / T(target, 1)``;
* ``perplexity`` - per domain, of both models on the corpus's held-out split, with how many held-out
  documents also occur verbatim in the training split (templated domains repeat documents);
* ``acceptance`` - per domain, greedy chain speculative decoding (``gamma`` 4 by default):
  accepted / drafted tokens, accepted tokens per step, tokens per target call;
* ``speedup`` - on the chat prompts, for gamma 1..6, the median over prompts of
  (target-alone wall time) / (speculative wall time);
* ``samples`` - the greedy continuation of the first prompt of each domain.

It also draws ``loss_curves.png`` from ``training_log.json`` and renders ``MODEL_CARD.md`` from both files
(:mod:`training.card_tiny`).

Prompts are fed as ``</s> prompt``, as every training document follows a ``</s>``; the tokenizer adds it
explicitly, so the ids do not depend on the tokenizer's post-processor.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from specdec_lite import autoregressive_generate, speculative_generate
from specdec_lite.bench import cost_coefficient, step_time
from specdec_lite.pairs import TINY_DIR
from specdec_lite.prompts import DOMAINS, Prompt, load_prompts

from . import card_tiny
from .corpus import build_corpus
from .evaluation import header, median_seconds, write_report
from .train_tiny import token_stream


def load(directory: Path):
    """Tokenizer, target and draft from ``directory``, in float32 and eval mode."""
    tokenizer = AutoTokenizer.from_pretrained(directory / "tokenizer")
    target = AutoModelForCausalLM.from_pretrained(directory / "target", dtype=torch.float32).eval()
    draft = AutoModelForCausalLM.from_pretrained(directory / "draft", dtype=torch.float32).eval()
    return tokenizer, target, draft


def shipped_mb(directory: Path) -> float:
    files = [f for part in ("tokenizer", "target", "draft") for f in (directory / part).rglob("*") if f.is_file()]
    return sum(f.stat().st_size for f in files) / 1e6


def cost(draft: PreTrainedModel, target: PreTrainedModel, gamma: int, context: int = 64, repeats: int = 50) -> dict:
    """Step times in ms and ``c``, from :func:`specdec_lite.bench.cost_coefficient`, and a verification pass."""
    steps = cost_coefficient(draft, target, context=context, repeats=repeats)
    verify = step_time(target, context=context, repeats=repeats, tokens=gamma + 1)
    return {
        "draft_ms": round(1000 * steps["draft_step_s"], 3), "target_ms": round(1000 * steps["target_step_s"], 3),
        "verify_tokens": gamma + 1, "target_ms_verify": round(1000 * verify, 3), "c": round(steps["c"], 4),
    }


@torch.inference_mode()
def perplexity(model: PreTrainedModel, stream: torch.Tensor, length: int = 128) -> float:
    """exp of the mean next-token cross-entropy over consecutive windows of ``length`` tokens."""
    total, count = 0.0, 0
    for start in range(0, len(stream) - 1, length):
        window = stream[start : start + length + 1].unsqueeze(0)
        if window.shape[1] < 2:
            break
        logits = model(input_ids=window[:, :-1]).logits
        total += F.cross_entropy(logits[0], window[0, 1:], reduction="sum").item()
        count += window.shape[1] - 1
    return math.exp(total / count)


def held_out_perplexity(tokenizer, target, draft, seed: int, chars_per_domain: int) -> dict:
    corpus = build_corpus(seed, chars_per_domain)
    result = {}
    for domain in DOMAINS:
        held_out, train = corpus[domain]["held_out"], set(corpus[domain]["train"])
        stream = token_stream(tokenizer, held_out)
        result[domain] = {
            "documents": len(held_out),
            "documents_also_in_train": sum(doc in train for doc in held_out),
            "tokens": len(stream),
            "target": round(perplexity(target, stream), 3),
            "draft": round(perplexity(draft, stream), 3),
        }
    return result


def encode(tokenizer, prompt: Prompt) -> torch.Tensor:
    """The prompt as a (1, n) tensor; the tiny tokenizer itself puts ``</s>`` first."""
    return tokenizer(prompt.prompt, return_tensors="pt").input_ids


def domain_figures(results: list) -> dict:
    """Acceptance figures pooled over the :class:`~specdec_lite.GenerationResult` of one domain's prompts."""
    steps = [s for r in results for s in r.steps]
    drafted, accepted = sum(s.drafted for s in steps), sum(s.accepted for s in steps)
    tokens, target_calls = sum(len(r.tokens) for r in results), sum(r.target_calls for r in results)
    return {
        "prompts": len(results),
        "drafted": drafted,
        "accepted": accepted,
        "acceptance_rate": round(accepted / drafted, 4),
        "accepted_per_step": round(accepted / len(steps), 4),
        "tokens_per_target_call": round(tokens / target_calls, 4),
    }


def acceptance(tokenizer, target, draft, prompts: list[Prompt], gamma: int, new_tokens: int) -> tuple[dict, dict]:
    """Per-domain acceptance figures, and each domain's first greedy continuation as a sample."""
    figures, samples = {}, {}
    for domain in DOMAINS:
        chosen = [p for p in prompts if p.domain == domain]
        if not chosen:
            continue
        results = [
            speculative_generate(draft, target, encode(tokenizer, p), new_tokens, gamma=gamma,
                                 eos_token_id=tokenizer.eos_token_id)
            for p in chosen
        ]
        figures[domain] = domain_figures(results)
        first = chosen[0]
        samples[domain] = {"id": first.id, "prompt": first.prompt, "continuation": tokenizer.decode(results[0].tokens)}
    drafted = sum(f["drafted"] for f in figures.values())
    figures["all"] = {"acceptance_rate": round(sum(f["accepted"] for f in figures.values()) / drafted, 4)}
    return figures, samples


def speedup(tokenizer, target, draft, prompts: list[Prompt], gammas: range, new_tokens: int) -> dict:
    """Median over ``prompts`` of target-alone wall time over speculative wall time, per gamma."""
    eos = tokenizer.eos_token_id
    speculative_generate(draft, target, encode(tokenizer, prompts[0]), 8, gamma=2)  # warm-up
    ratios: dict[int, list[float]] = {g: [] for g in gammas}
    baseline_tps = []
    for prompt in prompts:
        ids = encode(tokenizer, prompt)
        base = autoregressive_generate(target, ids, new_tokens, eos_token_id=eos)
        baseline_tps.append(len(base.tokens) / base.wall_time)
        for gamma in gammas:
            spec = speculative_generate(draft, target, ids, new_tokens, gamma=gamma, eos_token_id=eos)
            if not torch.equal(spec.tokens, base.tokens):
                raise RuntimeError(f"{prompt.id}: greedy speculative output differs from the target's at gamma {gamma}")
            ratios[gamma].append(base.wall_time / spec.wall_time)
    by_gamma = {str(g): round(statistics.median(r), 3) for g, r in ratios.items()}
    best = max(by_gamma, key=by_gamma.get)
    return {
        "prompts": len(prompts), "new_tokens": new_tokens, "median_speedup_by_gamma": by_gamma,
        "best_gamma": int(best), "best_speedup": by_gamma[best],
        "target_alone_tokens_per_s": round(statistics.median(baseline_tps), 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=TINY_DIR)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--gamma", type=int, default=4)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--per-domain", type=int, default=50, help="prompts per domain for acceptance and speed-up")
    parser.add_argument("--out", type=Path, default=None, help="default: DIR/eval.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    log = json.loads((args.dir / "training_log.json").read_text())
    card_tiny.plot_losses(log, args.dir / "loss_curves.png")

    report = header("training.evaluate_tiny", args.threads)
    report["load_seconds"] = round(median_seconds(lambda: load(args.dir)), 3)
    report["shipped_mb"] = round(shipped_mb(args.dir), 2)
    tokenizer, target, draft = load(args.dir)
    report["parameters"] = {"target": target.num_parameters(), "draft": draft.num_parameters()}
    report["cost"] = cost(draft, target, args.gamma)
    print(json.dumps(report, indent=1), flush=True)
    report["perplexity"] = held_out_perplexity(tokenizer, target, draft, log["seed"], log["chars_per_domain"])
    print(json.dumps(report["perplexity"]), flush=True)

    prompts = [p for d in DOMAINS for p in load_prompts(d, prompt_set="tiny")[: args.per_domain]]
    report["acceptance"], report["samples"] = acceptance(tokenizer, target, draft, prompts, args.gamma, args.new_tokens)
    report["acceptance"]["gamma"] = args.gamma
    print(json.dumps(report["acceptance"]), flush=True)
    chat = [p for p in prompts if p.domain == "chat"]
    report["speedup_chat"] = speedup(tokenizer, target, draft, chat, range(1, 7), args.new_tokens)
    print(json.dumps(report["speedup_chat"]), flush=True)
    write_report(args.out or args.dir / "eval.json", report)
    card_tiny.write(args.dir, log, report)


if __name__ == "__main__":
    main()
