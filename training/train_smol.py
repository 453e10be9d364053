"""Train the draft of the SmolLM2 pair: ``python -m training.train_smol [--stage data|train|all]``.

The draft is distilled from its target, SmolLM2-135M-Instruct, on text the target itself wrote
(sequence-level distillation, as in DistillSpec):

1. **data** - the target answers the course's own training instructions
   (:func:`training.instructions.training_instructions`, disjoint from the study's prompts),
   once greedily and ``--samples`` times sampled at temperature ``--sample-temperature``. The token
   ids are saved, compressed, to ``training/data/distill_data.npz`` and committed
   (:mod:`training.distill_data` describes the arrays).
2. **train** - the draft learns the target's next-token distributions over the answers: forward KL,
   ``sum_x p(x) log(p(x) / q(x))``, averaged over answer positions, in the shared loop
   (:func:`training.trainer.fit`).

Two drafts can be trained (``--variant``): ``full``, a Llama over the whole 49,152-token vocabulary,
and ``shortlist`` (:mod:`specdec_lite.shortlist`), which proposes only the ``--shortlist`` most frequent
tokens of the data and is cheaper per step. Both start from the target: their embeddings are the
target's projected onto its top principal directions. Saved in float16 under
``specdec_lite/zoo/smol/draft`` (or ``smol/draft-full``), with ``training_log.json``.

On a GPU the whole job takes minutes. On a CPU it is long: ``--minutes`` stops a stage cleanly and
``--resume`` continues it from ``checkpoint.pt`` (not committed), so it runs in steps of under two hours.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

from specdec_lite.pairs import SMOL_DIR
from specdec_lite.shortlist import ShortlistConfig, ShortlistDraft

from .distill_data import DATA_FILE, DOMAIN_CODES, answer_tokens, batch_of, make_data
from .trainer import Schedule, fit, forward_kl, save_float16

DRAFT_SHAPES = {
    "full": {"hidden_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
             "intermediate_size": 768},
    "shortlist": {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
                  "intermediate_size": 768},
}


def pick_shortlist(data, size: int) -> list[int]:
    """The ``size`` most frequent tokens of the answers (ties broken by token id), sorted by id."""
    counts = np.bincount(answer_tokens(data).astype(np.int64), minlength=1)
    order = np.lexsort((np.arange(len(counts)), -counts))[:size]
    return sorted(int(t) for t in order if counts[t] > 0)


def projected_embeddings(target, width: int) -> torch.Tensor:
    """The target's input embeddings projected onto their top ``width`` principal directions (V x width)."""
    emb = target.get_input_embeddings().weight.detach().float()
    centred = emb - emb.mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    projected = centred @ v[:width].T
    return projected * (0.02 / projected.std())


def make_draft(target, variant: str, shortlist: list[int]) -> torch.nn.Module:
    shape = DRAFT_SHAPES[variant]
    common = dict(vocab_size=target.config.vocab_size, max_position_embeddings=target.config.max_position_embeddings,
                  rope_theta=target.config.rope_theta, rms_norm_eps=target.config.rms_norm_eps, tie_word_embeddings=True,
                  bos_token_id=target.config.bos_token_id, eos_token_id=target.generation_config.eos_token_id,
                  pad_token_id=target.generation_config.pad_token_id, **shape)
    emb = projected_embeddings(target, shape["hidden_size"])
    if variant == "full":
        draft = LlamaForCausalLM(LlamaConfig(**common))
        rows = emb
    else:
        draft = ShortlistDraft(ShortlistConfig(shortlist=shortlist, **common))
        rows = torch.cat([emb[shortlist], emb.mean(0, keepdim=True)])  # the last row is "other"
    with torch.no_grad():
        draft.get_input_embeddings().weight.copy_(rows)
    draft.generation_config.eos_token_id = target.generation_config.eos_token_id
    draft.generation_config.pad_token_id = target.generation_config.pad_token_id
    return draft


def kl_loss(draft, target, ids, mask, scored, variant: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward KL(p || q) per scored position, and whether the draft's argmax equals the target's there."""
    with torch.no_grad():
        log_p = F.log_softmax(target(input_ids=ids, attention_mask=mask).logits[scored].float(), dim=-1)
        if variant == "shortlist":
            inside = log_p[:, draft.shortlist_ids]
            other = torch.log1p(-inside.exp().sum(-1).clamp(max=1 - 1e-6))[:, None]
            top_is_inside = torch.isin(log_p.argmax(-1), draft.shortlist_ids)
            target_top = torch.where(top_is_inside, draft.to_class[log_p.argmax(-1)], -1)
            log_p = torch.cat([inside, other], dim=-1)
        else:
            target_top = log_p.argmax(-1)
    with torch.autocast(ids.device.type, dtype=torch.bfloat16, enabled=ids.device.type == "cuda"):
        logits = (draft.class_logits(ids, attention_mask=mask) if variant == "shortlist"
                  else draft(input_ids=ids, attention_mask=mask)).logits
    log_q = F.log_softmax(logits[scored].float(), dim=-1)
    loss = forward_kl(log_q, log_p)
    agree = (log_q[:, :-1] if variant == "shortlist" else log_q).argmax(-1) == target_top
    return loss, agree.float().mean()


def train(draft, target, data, args, variant: str, device, out: Path) -> list[dict]:
    """Forward KL on random batches of the data; checkpoints to ``out/checkpoint.pt``, stops after ``args.minutes``."""
    rng = np.random.default_rng(args.seed)
    pad = target.generation_config.pad_token_id

    def loss_at(step):
        rows = rng.integers(0, len(data["lengths"]), args.batch)
        loss, agree = kl_loss(draft, target, *batch_of(data, rows, args.max_len, pad, device), variant)
        return loss, {"top1_agreement": agree}

    schedule = Schedule(peak=args.lr, warmup=200, floor=0.05)
    return fit(draft, loss_at, args.steps, schedule, weight_decay=0.05, log_every=50, label=variant, loss_name="kl",
               checkpoint=out / "checkpoint.pt", resume=args.resume, rng=rng, minutes=args.minutes)


def greedy_answer_agreement(draft, target, data, args, variant, device) -> dict:
    """Top-1 agreement with the target on the answers of 256 greedy training sequences, by domain (a sanity check)."""
    greedy = np.flatnonzero(data["mode"] == 0)
    rows = greedy[np.random.default_rng(args.seed + 99).permutation(len(greedy))[:256]]
    pad, result = target.generation_config.pad_token_id, {}
    with torch.no_grad():
        for name, code in DOMAIN_CODES.items():
            chosen = rows[data["domain"][rows] == code]
            agree = [kl_loss(draft, target, *batch_of(data, chosen[i : i + 16], args.max_len, pad, device), variant)[1]
                     for i in range(0, len(chosen), 16)]
            result[name] = round(float(torch.stack(agree).mean()), 4)
    return result


def load_target(args, device):
    from specdec_lite.smol import smol_target_dir

    folder = Path(args.target) if args.target else smol_target_dir()
    target = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).to(device).eval()
    return target, AutoTokenizer.from_pretrained(folder)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=["data", "train", "all"], default="all")
    parser.add_argument("--variant", choices=["shortlist", "full"], default="shortlist")
    parser.add_argument("--target", help="a converted SmolLM2 folder (default: the course's cache)")
    parser.add_argument("--data", type=Path, default=DATA_FILE)
    parser.add_argument("--out", type=Path, help="draft folder (default specdec_lite/zoo/smol/draft, or draft-full)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--per-domain", type=int, default=800, help="training instructions per domain")
    parser.add_argument("--samples", type=int, default=2, help="sampled answers per instruction, besides the greedy one")
    parser.add_argument("--sample-temperature", type=float, default=0.8)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--gen-batch", type=int, default=256)
    parser.add_argument("--shortlist", type=int, default=8192, help="tokens a shortlist draft can propose")
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--max-len", type=int, default=512)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--minutes", type=float, help="stop a training run cleanly after this long")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = False  # the target's distributions in true float32, as on the CPU
    target, tokenizer = load_target(args, device)
    if args.stage in ("data", "all"):
        start = time.time()
        data = make_data(target, tokenizer, args, device)
        args.data.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(args.data, **data)
        summary = {"instructions": 4 * args.per_domain, "per_domain": args.per_domain, "samples": args.samples,
                   "temperature": args.sample_temperature, "max_new_tokens": args.max_new_tokens,
                   "sequences": len(data["lengths"]), "answer_tokens": len(answer_tokens(data)),
                   "seconds": round(time.time() - start, 1), "device": str(device)}
        args.data.with_suffix(".json").write_text(json.dumps(summary, indent=1) + "\n")
        print(json.dumps(summary), flush=True)
    if args.stage in ("train", "all"):
        data = dict(np.load(args.data))
        out = args.out or SMOL_DIR / ("draft" if args.variant == "shortlist" else "draft-full")
        out.mkdir(parents=True, exist_ok=True)
        shortlist = pick_shortlist(data, args.shortlist)
        coverage = float(np.isin(answer_tokens(data), shortlist).mean())
        torch.manual_seed(args.seed)
        draft = make_draft(target, args.variant, shortlist).to(device)
        start = time.time()
        log = train(draft, target, data, args, args.variant, device, out)
        seconds = time.time() - start
        agreement = greedy_answer_agreement(draft, target, data, args, args.variant, device)
        save_float16(draft, out)
        info = {"variant": args.variant, "shape": DRAFT_SHAPES[args.variant], "shortlist": len(shortlist),
                "answer_coverage": round(coverage, 4) if args.variant == "shortlist" else 1.0,
                "parameters": sum(p.numel() for p in draft.parameters()), "steps": log[-1]["step"] + 1 if log else 0,
                "batch": args.batch, "lr": args.lr, "seconds": round(seconds, 1), "device": str(device),
                "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                "torch": torch.__version__, "train_agreement_on_greedy_answers": agreement, "log": log}
        (out / "training_log.json").write_text(json.dumps(info, indent=1) + "\n")
        print(json.dumps({k: v for k, v in info.items() if k != "log"}), flush=True)


if __name__ == "__main__":
    main()
