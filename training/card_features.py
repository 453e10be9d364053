"""The feature drafters' model cards, ``specdec_lite/zoo/smol/{medusa,eagle}/MODEL_CARD.md``.

Every figure comes from ``<drafter>/training_log.json`` (:mod:`training.train_features`) and
``features_eval.json`` (:mod:`training.evaluate_features`); the prose is the drafters' own.
"""

from __future__ import annotations

import json
from pathlib import Path

from specdec_lite.prompts import DOMAINS

from .card import table

WHAT = {
    "medusa": ("Medusa heads on SmolLM2-135M-Instruct",
               "{heads} heads, each one residual block `h + SiLU(A_i h + b_i)` on the target's last hidden state "
               "(576 wide), scored by the target's own output rows for the {shortlist:,}-token shortlist of the "
               "course's draft (frozen, not stored here). Head i proposes the token i + 1 places ahead "
               "(`specdec_lite.medusa`)."),
    "eagle": ("An EAGLE-style feature draft on SmolLM2-135M-Instruct",
              "One Llama decoder layer (576 wide, MLP {intermediate}, 9 heads, 3 key-value heads) after a linear "
              "fusion of the pair (target feature h_t, target embedding of x_(t+1)); it predicts the feature "
              "h_(t+1), scored by the target's own output rows for the {shortlist:,}-token shortlist of the "
              "course's draft (frozen, not stored here), and drafts on its own predicted features "
              "(`specdec_lite.eagle`)."),
}
LOSS = {
    "medusa": "the mean over heads of each head's cross-entropy against the target's greedy choice i + 1 places ahead",
    "eagle": "smooth L1 between the predicted and the true next feature plus {ce_weight} x the cross-entropy "
             "against the target's greedy choice (EAGLE-1's weights), uniform noise of half-width {noise} on the "
             "input features",
}


NEXT = {
    "medusa": "This is the first Medusa run: {sequences:,} of the 9,600 distillation sequences, {passes:.1f} passes over them. "
              "Head 1 proposes the token after the newest without seeing the newest, and the later heads guess "
              "further ahead still, so agreement falls from head to head (`top1_head1` to `top1_head4` in the training "
              "table). Left to try: "
              "more of the cached data, and training on the greedy answers only (a third of the sequences), whose "
              "continuations are the ones greedy decoding follows.",
    "eagle": "A first probe (FACTS: 400 sequences, 3 epochs, one busy core) reached teacher-forced agreement 0.32 on the "
             "study prompts against the separate draft's 0.50. This run, with {sequences:,} sequences and {passes:.1f} "
             "passes over them, passes the separate draft's first-token agreement (the first table above), but "
             "its chain acceptance stays below the separate draft's: from the second drafted token on it reads its "
             "own predicted features, and their errors compound. Left to try: the rest of the cached data (9,600 "
             "sequences), and training on its own predictions for a few steps (EAGLE-3's training-time test).",
}
def _training(log: dict) -> str:
    first, last = log["log"][0], log["log"][-1]
    shown = [k for k in last if k not in ("step", "seconds")]
    rows = [[name, first[name], last[name]] for name in shown]
    settings = log["settings"]
    return "\n".join([
        f"- Data: the first {log['sequences']:,} sequences of the course's distillation data in the cache's "
        f"seeded order (four domains in turn; `training/features.py`), {log['trained_on']:,} trained on "
        f"({log['tokens']:,} tokens), every 50th ({log['held_out']}) held out.",
        f"- Objective: {LOSS[log['drafter']].format(**settings)}, on answer positions only.",
        f"- {log['steps']:,} steps of {log['batch']} sequences, AdamW, peak learning rate {log['lr']}, cosine decay; "
        f"{log['parameters']:,} trained parameters; {log['seconds'] / 60:.0f} min on this CPU "
        f"({log['threads']} thread(s), torch {log['torch']}).",
        "", table(rows, ["figure (training batch)", "first step", "last step"]),
    ])


def _agreement(ev: dict, kind: str) -> str:
    a = ev["agreement"]
    rows = [[d, a[d]["draft"], a[d][kind], a[d]["positions"]] for d in DOMAINS]
    mean = {n: sum(a[d][n] for d in DOMAINS) / len(DOMAINS) for n in ("draft", kind)}
    rows.append(["mean", f"{mean['draft']:.4f}", f"{mean[kind]:.4f}", ""])
    return (f"Teacher-forced top-1 agreement of the first proposal with the target's greedy choice, on the target's "
            f"greedy answers ({a['new_tokens']} new tokens) to the first {a['prompts_per_domain']} study prompts of "
            "each domain:\n\n" + table(rows, ["domain", "separate draft", kind, "positions"]))


def _acceptance(ev: dict) -> str:
    acc = ev["acceptance"]
    names = [n for n in ("draft", "lookup", "medusa", "eagle") if n in acc]
    rows = [[d] + [f"{acc[n][d]['alpha']:.3f}" for n in names] for d in DOMAINS]
    rows.append(["all"] + [f"{acc[n]['all']['alpha']:.3f}" for n in names])
    return (f"Greedy chain, gamma {acc['gamma']}, {acc['new_tokens']} new tokens, the first {acc['prompts_per_domain']} "
            "study prompts of each domain; alpha per tested token (prompt lookup drafts only where the context "
            "has a match, so its alpha covers those steps alone):\n\n" + table(rows, ["domain", *names])
            + "\n\nSpeed: the timed comparison of every drafter against the target alone is "
            "`tools/compare_drafters.py` (lesson 9).")


def render(kind: str, log: dict, ev: dict | None) -> str:
    title, what = WHAT[kind]
    parts = [f"# {title}", "",
             "Generated by `python -m training.evaluate_features` from `training_log.json` and `../features_eval.json`.",
             "", "## Model", what.format(shortlist=log["shortlist"], **log["settings"]), "",
             "## Training", _training(log), ""]
    if log.get("held_out_agreement"):
        held = log["held_out_agreement"]
        key = "top1" if kind == "eagle" else "top1_head1"
        parts += ["Held-out distillation sequences, top-1 agreement" + (" (head 1)" if kind == "medusa" else "") + ": "
                  + ", ".join(f"{d} {held[d][key]:.3f}" for d in DOMAINS if d in held) + ". (Every 50th sequence of "
                  "an order that takes the domains in turn falls on the same two domains; the study's prompts below "
                  "cover all four.)", ""]
    if ev is not None:
        parts += ["## On the study's prompts", _agreement(ev, kind), "", _acceptance(ev), ""]
        if kind == "eagle":
            ours, theirs = ev["acceptance"]["eagle"]["all"]["alpha"], ev["acceptance"]["draft"]["all"]["alpha"]
            verdict = "met" if ours >= theirs else "**missed**"
            parts += [f"Budget: the EAGLE-style draft's alpha at least the separate draft's: {ours:.3f} against "
                      f"{theirs:.3f}, {verdict}.", ""]
    parts += ["## What was tried, and what is left", NEXT[kind].format(sequences=log["sequences"], passes=log["steps"] * log["batch"] / log["trained_on"]), ""]
    return "\n".join(parts)


def write_all(smol_dir: Path, ev: dict | None) -> None:
    for kind in WHAT:
        folder = smol_dir / kind
        log = json.loads((folder / "training_log.json").read_text())
        (folder / "MODEL_CARD.md").write_text(render(kind, log, ev))
