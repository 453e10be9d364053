"""The SmolLM2 draft's distillation data: SmolLM2's own answers to the course's training instructions.

``training/data/distill_data.npz`` (committed) holds, for each of the 3,200 instructions of
:func:`training.instructions.training_instructions` (800 per domain, seed 0), the target's greedy answer
and two answers sampled at temperature 0.8: 9,600 sequences, written by
``python -m training.train_smol --stage data``. ``training/data/distill_data.json`` summarises it (the
model card quotes it). The arrays, flat and compressed:

* ``tokens`` (uint16: the 49,152-token vocabulary fits in 16 bits) - every sequence's prompt (the chat
  template's user turn) and answer (up to and including ``<|im_end|>``), one after another;
* ``starts``, ``lengths`` - where each sequence begins in ``tokens`` and how long it is;
* ``prompt_len`` - how many of its tokens are the prompt (the rest is the answer);
* ``domain`` - 0 code, 1 math, 2 logic, 3 chat (:data:`DOMAIN_CODES`);
* ``mode`` - 0 for the greedy answer, i >= 1 for the i-th sampled one.

Load it with ``dict(np.load(DATA_FILE))``. The same sequences serve later drafters trained from the target's
own features (the course's lesson 9).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from specdec_lite.pairs import chat_prompt_ids

from .instructions import training_instructions

DATA_FILE = Path(__file__).parent / "data" / "distill_data.npz"
DOMAIN_CODES = {"code": 0, "math": 1, "logic": 2, "chat": 3}


@torch.inference_mode()
def answer(target, tokenizer, prompts: list[list[int]], *, sample: bool, temperature: float, max_new_tokens: int,
           batch: int, device: torch.device) -> list[list[int]]:
    """The target's answer to each prompt (token ids up to and including its end-of-turn token)."""
    end, pad = target.generation_config.eos_token_id, target.generation_config.pad_token_id
    answers = []
    for start in range(0, len(prompts), batch):
        chunk = prompts[start : start + batch]
        width = max(map(len, chunk))
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in chunk], device=device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in chunk], device=device)
        options = dict(do_sample=True, temperature=temperature, top_k=0, top_p=1.0) if sample else dict(do_sample=False)
        out = target.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, pad_token_id=pad,
                              eos_token_id=end, **options)
        for row in out[:, width:].tolist():
            answers.append(row[: row.index(end) + 1] if end in row else row)
        print(f"  answered {len(answers)}/{len(prompts)}", flush=True)
    return answers


def make_data(target, tokenizer, args, device) -> dict:
    """Prompts and the target's answers, packed into the flat arrays described above."""
    records = training_instructions(per_domain=args.per_domain, seed=args.seed)
    prompts = [chat_prompt_ids(tokenizer, r["prompt"]) for r in records]
    tokenizer.padding_side = "left"
    runs = [(False, 0)] + [(True, i + 1) for i in range(args.samples)]
    sequences, prompt_len, domain, mode = [], [], [], []
    for sample, index in runs:
        torch.manual_seed(args.seed + index)
        print(f"{'sampled' if sample else 'greedy'} answers, run {index}", flush=True)
        answers = answer(target, tokenizer, prompts, sample=sample, temperature=args.sample_temperature,
                         max_new_tokens=args.max_new_tokens, batch=args.gen_batch, device=device)
        for record, prompt, reply in zip(records, prompts, answers):
            sequences.append(prompt + reply)
            prompt_len.append(len(prompt))
            domain.append(DOMAIN_CODES[record["domain"]])
            mode.append(index)
    lengths = np.array([len(s) for s in sequences])
    return {
        "tokens": np.concatenate([np.array(s, dtype=np.uint16) for s in sequences]),
        "starts": np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64),
        "lengths": lengths.astype(np.int32),
        "prompt_len": np.array(prompt_len, dtype=np.int32),
        "domain": np.array(domain, dtype=np.uint8),
        "mode": np.array(mode, dtype=np.uint8),
    }


def answer_tokens(data) -> np.ndarray:
    """Every answer token of the data (prompt tokens excluded)."""
    return np.concatenate([data["tokens"][s + p : s + n] for s, p, n in
                           zip(data["starts"], data["prompt_len"], data["lengths"])])


def batch_of(data, rows: np.ndarray, max_len: int, pad: int, device):
    """Right-padded ids, attention mask and a mask of the positions whose next token is an answer token."""
    seqs = [data["tokens"][data["starts"][r] : data["starts"][r] + data["lengths"][r]][:max_len].astype(np.int64)
            for r in rows]
    width = max(map(len, seqs))
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    scored = torch.zeros((len(seqs), width), dtype=torch.bool)
    for i, (r, s) in enumerate(zip(rows, seqs)):
        ids[i, : len(s)] = torch.from_numpy(s)
        mask[i, : len(s)] = 1
        scored[i, data["prompt_len"][r] - 1 : len(s) - 1] = True
    return ids.to(device), mask.to(device), scored.to(device)
