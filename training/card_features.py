"""The feature drafters' model cards, ``specdec_lite/zoo/smol/{medusa,eagle}/MODEL_CARD.md``.

Every figure comes from ``<drafter>/training_log.json`` (:mod:`training.train_features`),
``features_eval.json`` (:mod:`training.evaluate_features`) and, for the speed, the committed comparison of every
drafter ``results/drafters/smol.json`` (``tools/compare_drafters.py``); the prose is the drafters' own.
``python -m training.card_features`` renders the cards again from those files.
"""

from __future__ import annotations

import json
from pathlib import Path

from specdec_lite.prompts import DOMAINS

from .card import table

RESULTS = Path(__file__).resolve().parents[1] / "results"
SPEED, POLICY = RESULTS / "drafters" / "smol.json", RESULTS / "policies" / "smol_features.json"

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
            "has a match, so its alpha covers those steps alone):\n\n" + table(rows, ["domain", *names]))


def _policy(kind: str, policy: dict) -> str:
    """What choosing a drafter per domain on held-out prompts picked, and whether it ever picked ``kind``."""
    rows = {row["domain"]: row for row in policy["result"]["summary"]}
    picks = {d: rows[d]["domain_drafter_choice"] for d in DOMAINS}
    chosen = [d for d in DOMAINS if picks[d].split(",")[0] in (kind, f"lookup_{kind}")]
    return (f"Choosing the drafter and gamma per domain on half the prompts and timing the choice on the other half "
            f"(`{policy['command']}`) picked " + "; ".join(f"{d}: {picks[d]}" for d in DOMAINS)
            + f", {rows['all']['domain_drafter_speedup']:.2f}x overall against {rows['all']['fixed_speedup']:.2f}x for "
            "the separate draft with one gamma; "
            + (f"this drafter was chosen in {', '.join(chosen)}." if chosen else "this drafter was never chosen."))


def _speed(kind: str, speed: dict) -> str:
    """This drafter's measured speed-ups beside the best drafter's per domain, and the speed budgets' verdicts."""
    study, grounded, verdict = speed["study"]["drafters"], speed["grounded"]["drafters"], speed["budgets"]
    names = [n for n in study if kind in n.split("_")]
    cell = lambda f: (f"{f['speedup']:.2f}x [{f['speedup_ci'][0]:.2f}, {f['speedup_ci'][1]:.2f}] ({f['tokens_per_call']:.2f})"
                      + ("" if f["exact"] else ", **not exact**"))
    rows = [[n] + [cell(study[n][d]) for d in DOMAINS] for n in names]
    best = verdict["best_per_domain"]
    rows.append(["best of all drafters"] + [f"{best[d]['speedup']:.2f}x ({best[d]['drafter']})" for d in DOMAINS])
    missed = [d for d in DOMAINS if not best[d]["met"]]
    g = verdict["grounded"]
    on_grounded = "; ".join(f"{n} {grounded[n]['grounded']['speedup']:.2f}x" for n in grounded if kind in n.split("_"))
    settings, c, run = speed["settings"], speed["costs"][kind]["c"], speed["study"]["provenance"]
    return "\n".join([
        f"Measured by `{run['command']}` ({run['started']}, {run['seconds'] / 60:.0f} min, "
        f"{run['machine']['cpus']} CPUs, {run['machine']['torch_threads']} threads): speed-up over the target "
        f"alone on the first {len(settings['study_prompts']) // len(DOMAINS)} study prompts of each domain, the median "
        f"over prompts of each prompt's median of {speed['study']['repeats']} interleaved rounds, with its 95% bootstrap "
        f"interval over prompts (greedy, {settings['new_tokens']} new tokens, chain gamma {settings['gamma']}, tree "
        f"depth {settings['tree']['depth']}, branching {settings['tree']['branching']}, budget "
        f"{settings['tree']['budget']}), and tokens per target call in brackets. Drafting a chain costs c = {c:.3f} "
        "target steps.", "", table(rows, ["drafter", *DOMAINS]), "",
        f"On the {len(settings['grounded_prompts'])} input-grounded prompts ({speed['grounded']['repeats']} round(s), "
        f"{speed['grounded']['provenance']['started']}): {on_grounded or 'not run'}; the best "
        f"was {g['drafter']} at {g['speedup']:.2f}x.",
        "",
        f"Budgets: the best drafter per domain at least {best[DOMAINS[0]]['budget']}x: "
        + ("met in every domain" if not missed else "**missed** in " + ", ".join(missed))
        + f"; prompt lookup or a combination on the grounded set at least {g['budget']}x: "
        + ("met" if g["met"] else "**missed**") + ". Tried: chains and trees, and prompt lookup falling back to this "
        "drafter (the rows above and the grounded line). Lesson 9 explains the misses on this CPU: a chain step pays c per drafted token "
        "and a verification pass over gamma + 1 tokens that costs more than one target step (lesson 9 measures it), "
        "so a drafter breaks even only at more tokens per call than that pass costs in steps.",
    ])


def render(kind: str, log: dict, ev: dict | None, speed: dict | None = None, policy: dict | None = None) -> str:
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
    if speed is not None:
        parts += ["## Speed on this CPU", _speed(kind, speed), ""]
    if policy is not None:
        parts += [_policy(kind, policy), ""]
    parts += ["## What was tried, and what is left", NEXT[kind].format(sequences=log["sequences"], passes=log["steps"] * log["batch"] / log["trained_on"]), ""]
    return "\n".join(parts)


def write_all(smol_dir: Path, ev: dict | None, speed_file: Path = SPEED, policy_file: Path = POLICY) -> None:
    """Render both cards; the speed and policy lines only where those runs are committed (their files exist)."""
    speed, policy = (json.loads(f.read_text()) if f.exists() else None for f in (speed_file, policy_file))
    for kind in WHAT:
        folder = smol_dir / kind
        log = json.loads((folder / "training_log.json").read_text())
        (folder / "MODEL_CARD.md").write_text(render(kind, log, ev, speed, policy))


if __name__ == "__main__":
    from specdec_lite.pairs import SMOL_DIR

    evaluation = SMOL_DIR / "features_eval.json"
    write_all(SMOL_DIR, json.loads(evaluation.read_text()) if evaluation.exists() else None)
