"""Train the feature drafters (Medusa's heads, the EAGLE-style layer) on SmolLM2's cached features, on this CPU.

Both learn from the first ``--sequences`` sequences of :func:`training.features.sequence_order` (the
target's features and greedy choices cached by ``python -m training.features``), of which every 50th is
held out to measure agreement. Only positions whose next token is part of an answer are scored.

* ``--drafter medusa``: ``--heads`` heads; head ``i`` at ``h_t`` is trained with the cross-entropy of its
  shortlist logits against the target's greedy choice at ``t + i`` (the token ``i + 1`` places ahead).
* ``--drafter eagle``: one decoder layer fed the pairs ``(h_t + noise, e(x_{t+1}))``; EAGLE-1's loss,
  smooth L1 between the predicted ``f_{t+1}`` and ``h_{t+1}`` plus ``--ce-weight`` times the cross-entropy
  of ``q`` (the target's output rows over the shortlist, applied to ``f_{t+1}``) against the target's choice.

The target's own rows of the output layer and its embeddings are frozen, never trained. Positions whose
target choice lies outside the shortlist (1.6% of answer tokens) do not enter the cross-entropy.
``--minutes`` stops cleanly (checkpoint in ``feature_cache/``), ``--resume`` continues; at the end the weights
(float16), ``training_log.json`` and the held-out agreement go to ``specdec_lite/zoo/smol/<drafter>/``.

    python -m training.train_features --drafter medusa --sequences 2400 --minutes 60
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from specdec_lite.eagle import EagleConfig, EagleLayer
from specdec_lite.medusa import MedusaConfig, MedusaHeads
from specdec_lite.shortlist import TargetHead

from .distill_data import DATA_FILE, DOMAIN_CODES
from .features import CACHE, load_cache, sequence_order
from .trainer import Schedule, fit, save_float16

SMOL_DIR = Path(__file__).resolve().parents[1] / "specdec_lite" / "zoo" / "smol"


def shipped_shortlist() -> list[int]:
    """The shortlist of the course's SmolLM2 draft (its 8,192 most frequent answer tokens): one shortlist for all."""
    return json.loads((SMOL_DIR / "draft" / "config.json").read_text())["shortlist"]


def split(rows: list[int]) -> tuple[list[int], list[int]]:
    """Every 50th sequence (of the seeded order) held out, the rest trained on."""
    return [r for i, r in enumerate(rows) if i % 50 != 49], [r for i, r in enumerate(rows) if i % 50 == 49]


def batch(data: dict, cache: dict, rows, head: TargetHead):
    """Right-padded ``features (B, L, H)``, ``tokens``, the choice's shortlist index (-1 outside), mask, answer mask."""
    width = max(len(cache[r][1]) for r in rows)
    hidden = head.weight.shape[1]
    feats = torch.zeros(len(rows), width, hidden)
    tokens = torch.zeros(len(rows), width, dtype=torch.long)
    choice = torch.full((len(rows), width), -1, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    answer = torch.zeros(len(rows), width, dtype=torch.bool)
    for i, r in enumerate(rows):
        f, c = cache[r]
        n = len(c)
        start = data["starts"][r]
        feats[i, :n] = torch.from_numpy(f.astype(np.float32))
        tokens[i, :n] = torch.from_numpy(data["tokens"][start : start + n].astype(np.int64))
        choice[i, :n] = head.rows[torch.from_numpy(c.astype(np.int64))]
        mask[i, :n] = 1
        answer[i, data["prompt_len"][r] - 1 : n - 1] = True  # h_t whose next token x_{t+1} is an answer token
    return feats, tokens, choice, mask, answer


def head_labels(choice: torch.Tensor, answer: torch.Tensor, i: int) -> torch.Tensor:
    """Head ``i``'s label at every answer position ``(b, t)`` (row-major): ``choice[b, t + i]``, -1 past the answer.

    ``choice[b, t]`` is the target's greedy choice for ``x_{t+1}``; ``answer[b, t]`` says that ``x_{t+1}`` is an answer
    token. Head ``i`` at ``h_t`` proposes ``x_{t+1+i}``, whose choice is made at ``t + i``, an answer position too.
    """
    b, t = answer.nonzero().unbind(1)
    at = (t + i).clamp(max=answer.shape[1] - 1)
    return torch.where((t + i < answer.shape[1]) & answer[b, at], choice[b, at], -1)


def medusa_loss(heads: MedusaHeads, head: TargetHead, feats, tokens, choice, mask, answer):
    """Mean over heads of the cross-entropy of head ``i`` at ``h_t`` against the target's choice at ``t + i``."""
    out = heads(feats[answer])  # (positions, k, H)
    losses, agree = [], []
    for i in range(1, heads.config.heads + 1):
        label = head_labels(choice, answer, i)
        logits = head(out[:, i - 1])
        losses.append(F.cross_entropy(logits, label, ignore_index=-1))
        valid = label >= 0
        agree.append((logits[valid].argmax(-1) == label[valid]).float().mean())
    metrics = {f"top1_head{i + 1}": a for i, a in enumerate(agree)}
    return torch.stack(losses).mean(), metrics


def eagle_loss(layer: EagleLayer, head: TargetHead, embedding, feats, tokens, choice, mask, answer, *,
               noise: float, ce_weight: float, generator: torch.Generator | None):
    """EAGLE-1's loss: smooth L1 of ``f_{t+1}`` against ``h_{t+1}`` plus ``ce_weight`` times the token cross-entropy."""
    inputs = feats[:, :-1]
    if noise:
        inputs = inputs + noise * (2 * torch.rand(inputs.shape, generator=generator) - 1)
    with torch.no_grad():
        emb = embedding(tokens[:, 1:])
    predicted = layer(inputs, emb, attention_mask=mask[:, :-1])
    scored = answer[:, 1:]  # f_{t+1} whose next token x_{t+2} is an answer token
    regression = F.smooth_l1_loss(predicted[scored], feats[:, 1:][scored])
    logits = head(predicted[scored])
    label = choice[:, 1:][scored]
    ce = F.cross_entropy(logits, label, ignore_index=-1)
    valid = label >= 0
    agree = (logits[valid].argmax(-1) == label[valid]).float().mean()
    return regression + ce_weight * ce, {"regression": regression, "ce": ce, "top1": agree}


@torch.no_grad()
def held_out_agreement(loss_of, data, cache, rows, size: int = 8) -> dict:
    """Teacher-forced top-1 agreement on the held-out sequences, overall and by domain."""
    by_domain = {}
    for name, code in DOMAIN_CODES.items():
        chosen = [r for r in rows if data["domain"][r] == code]
        values = [loss_of(chosen[i : i + size])[1] for i in range(0, len(chosen), size)]
        if not values:
            continue
        by_domain[name] = {key: round(float(np.mean([float(v[key]) for v in values])), 4) for key in values[0]}
    return by_domain


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drafter", choices=["medusa", "eagle"], required=True)
    parser.add_argument("--sequences", type=int, required=True, help="the first N sequences of the cache's order")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--data", type=Path, default=DATA_FILE)
    parser.add_argument("--target", help="a converted SmolLM2 folder (default: the course's cache)")
    parser.add_argument("--out", type=Path, help="default specdec_lite/zoo/smol/<drafter>")
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--intermediate", type=int, default=1536, help="the EAGLE layer's MLP width")
    parser.add_argument("--noise", type=float, default=0.1, help="half-width of the uniform noise on EAGLE's inputs")
    parser.add_argument("--ce-weight", type=float, default=0.1)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--minutes", type=float)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from .train_smol import load_target

    data = dict(np.load(args.data))
    rows = [int(r) for r in sequence_order(data)[: args.sequences]]
    cache = load_cache(args.cache)
    missing = [r for r in rows if r not in cache]
    if missing:
        raise SystemExit(f"{len(missing)} of the first {args.sequences} sequences are not cached yet; run "
                         f"`python -m training.features --sequences {args.sequences}` first, or pass a smaller "
                         f"--sequences (the cache holds {len(cache)}).")
    cache = {r: cache[r] for r in rows}
    train_rows, held_rows = split(rows)
    target, _ = load_target(argparse.Namespace(target=args.target), torch.device("cpu"))
    shortlist = shipped_shortlist()
    head = TargetHead.of(target, shortlist)
    embedding = target.get_input_embeddings()
    torch.manual_seed(args.seed)
    if args.drafter == "medusa":
        model = MedusaHeads(MedusaConfig(hidden_size=target.config.hidden_size, heads=args.heads,
                                         vocab_size=target.config.vocab_size, shortlist=shortlist))
        loss_of = lambda chosen, gen=None: medusa_loss(model, head, *batch(data, cache, chosen, head))  # noqa: E731
    else:
        model = EagleLayer(EagleConfig.like(target, shortlist, intermediate_size=args.intermediate))
        loss_of = lambda chosen, gen=None: eagle_loss(  # noqa: E731
            model, head, embedding, *batch(data, cache, chosen, head), noise=args.noise if gen is not None else 0.0,
            ce_weight=args.ce_weight, generator=gen)
    rng = np.random.default_rng(args.seed)
    noise_generator = torch.Generator().manual_seed(args.seed)
    out = args.out or SMOL_DIR / args.drafter
    out.mkdir(parents=True, exist_ok=True)

    def loss_at(step):
        return loss_of([train_rows[i] for i in rng.integers(0, len(train_rows), args.batch)], noise_generator)

    earlier = json.loads((out / "training_log.json").read_text()) if (out / "training_log.json").exists() else {}
    start = time.time()
    schedule = Schedule(peak=args.lr, warmup=100, floor=0.05)
    log = fit(model, loss_at, args.steps, schedule, weight_decay=0.0, log_every=25, label=args.drafter,
              checkpoint=args.cache / f"checkpoint_{args.drafter}.pt", resume=args.resume, rng=rng,
              minutes=args.minutes)
    steps_done = log[-1]["step"] + 1 if log else 0
    info = {"drafter": args.drafter, "sequences": args.sequences, "trained_on": len(train_rows),
            "held_out": len(held_rows), "tokens": int(sum(len(cache[r][1]) for r in train_rows)),
            "parameters": sum(p.numel() for p in model.parameters()), "shortlist": len(shortlist),
            "steps": steps_done, "steps_planned": args.steps, "batch": args.batch, "lr": args.lr,
            "settings": {k: getattr(args, k) for k in ("heads", "intermediate", "noise", "ce_weight")},
            "seconds": round(time.time() - start, 1) + (earlier.get("seconds", 0.0) if args.resume else 0.0), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "log": log}
    if steps_done == args.steps:
        model.eval()
        info["held_out_agreement"] = held_out_agreement(loss_of, data, cache, held_rows)
        save_float16(model, out)
    (out / "training_log.json").write_text(json.dumps(info, indent=1) + "\n")
    print(json.dumps({k: v for k, v in info.items() if k != "log"}), flush=True)


if __name__ == "__main__":
    main()
