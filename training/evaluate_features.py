"""Measure the feature drafters against the separate draft on the study's prompts: ``python -m training.evaluate_features``.

Writes ``specdec_lite/zoo/smol/features_eval.json`` and renders ``medusa/MODEL_CARD.md`` and ``eagle/MODEL_CARD.md``
(:mod:`training.card_features`):

* ``agreement`` - teacher-forced top-1 agreement with the target on its own greedy answers (64 new tokens) to
  the first ``--agreement-prompts`` study prompts of each domain: at every answer position, does the drafter's
  *first* proposal equal the target's choice? The separate draft reads the tokens; Medusa's head 1 reads
  ``h_{t-1}`` (it proposes the token after the newest); the EAGLE layer reads the pairs up to ``(h_{t-1}, x_t)``.
* ``acceptance`` - greedy chain speculation (``gamma`` 4, 64 new tokens) over the first ``--per-domain`` study
  prompts of each domain (:func:`specdec_lite.study.run_study`), for the separate draft, prompt lookup, Medusa
  and EAGLE: alpha per tested token by domain, with its 95% interval, and accepted tokens per step.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from specdec_lite import load_pair, load_prompts
from specdec_lite.lookup import PromptLookup
from specdec_lite.pairs import SMOL_DIR, feature_drafter
from specdec_lite.prompts import DOMAINS
from specdec_lite.study import StudyConfig, acceptance_by_domain, run_study

from . import card_features
from .distill_data import answer
from .evaluation import header, write_report


@torch.inference_mode()
def agreement(pair, drafters: dict, per_domain: int, new_tokens: int) -> dict:
    """Teacher-forced top-1 agreement of each drafter's first proposal with the target's greedy choice, by domain."""
    medusa, eagle = drafters["medusa"], drafters["eagle"]
    out = {}
    for domain in DOMAINS:
        texts = [p.prompt for p in load_prompts(domain=domain, prompt_set=pair.prompt_set)[:per_domain]]
        ids = [pair.encode(text).tolist() for text in texts]
        replies = answer(pair.target, pair.tokenizer, ids, sample=False, temperature=1.0, max_new_tokens=new_tokens,
                         batch=len(ids), device=pair.device)
        hits = {"draft": [], "medusa": [], "eagle": []}
        for prompt, reply in zip(ids, replies):
            sequence = torch.tensor(prompt + reply, device=pair.device)
            run = pair.target(input_ids=sequence[None], output_hidden_states=True)
            h, choice = run.hidden_states[-1][0], run.logits[0].argmax(-1)
            j = torch.arange(len(prompt), len(sequence) - 1, device=pair.device)  # choice[j] is the answer's x_{j+1}
            draft_top = pair.draft(input_ids=sequence[None]).logits[0].argmax(-1)
            medusa_top = medusa.output.shortlist[medusa.output(medusa.heads(h)[:, 0]).argmax(-1)]
            predicted = eagle.layer(h[None, :-1], eagle.embedding(sequence[1:])[None])[0]  # row t: f_{t+1}
            eagle_top = eagle.output.shortlist[eagle.output(predicted).argmax(-1)]
            hits["draft"] += (draft_top[j] == choice[j]).tolist()
            hits["medusa"] += (medusa_top[j - 1] == choice[j]).tolist()
            hits["eagle"] += (eagle_top[j - 1] == choice[j]).tolist()
        out[domain] = {name: round(float(np.mean(v)), 4) for name, v in hits.items()} | {"positions": len(hits["draft"])}
        print(domain, out[domain], flush=True)
    return out | {"prompts_per_domain": per_domain, "new_tokens": new_tokens}


def acceptance(pair, drafters: dict, per_domain: int, gamma: int, new_tokens: int) -> dict:
    """Greedy chain alpha per tested token by domain for every drafter, over the same study prompts."""
    config = StudyConfig(mode="chain", gamma=gamma, max_new_tokens=new_tokens, n_resamples=1000,
                         prompts_per_domain=per_domain)
    out = {}
    for name, drafter in drafters.items():
        result = run_study(drafter, pair.target, load_prompts(prompt_set=pair.prompt_set), config,
                           encode=pair.encode, progress=True)
        summary = acceptance_by_domain(result).set_index("domain")
        out[name] = {domain: {"alpha": row["level_acceptance"],
                              "alpha_ci": [row["level_acceptance_ci_low"], row["level_acceptance_ci_high"]],
                              "accepted_per_step": row["expected_accepted_length"]}
                     for domain, row in summary.iterrows()}
        levels = summary["levels_reached"]
        out[name]["all"] = {"alpha": float((summary["level_acceptance"] * levels).sum() / levels.sum()),
                            "accepted_per_step": float(result.steps["accepted"].mean())}
        print(name, {d: round(v["alpha"], 3) for d, v in out[name].items()}, flush=True)
    return out | {"prompts_per_domain": per_domain, "gamma": gamma, "new_tokens": new_tokens}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-domain", type=int, default=12)
    parser.add_argument("--agreement-prompts", type=int, default=8)
    parser.add_argument("--gamma", type=int, default=4)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    pair = load_pair("smol", device="cpu")
    features = {kind: feature_drafter(pair, kind) for kind in ("medusa", "eagle")}
    report = header("training.evaluate_features", args.threads)
    report["agreement"] = agreement(pair, features, args.agreement_prompts, args.new_tokens)
    drafters = {"draft": pair.draft, "lookup": PromptLookup(vocab_size=pair.target.config.vocab_size), **features}
    report["acceptance"] = acceptance(pair, drafters, args.per_domain, args.gamma, args.new_tokens)
    write_report(SMOL_DIR / "features_eval.json", report)
    card_features.write_all(SMOL_DIR, report)


if __name__ == "__main__":
    main()
