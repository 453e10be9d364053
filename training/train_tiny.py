"""Train the course's own pair: ``python -m specdec_lite.zoo.train [--out DIR] [--target-steps N] ...``.

The pipeline, fully seeded: build the corpus (:mod:`specdec_lite.zoo.corpus`) -> train a byte-level
BPE tokenizer -> train the target on next-token cross-entropy -> distil the draft from the target.

Why distil the draft: speculative decoding only cares how often the draft's proposals match the
target, so the draft is trained to imitate the target's next-token distributions (forward KL,
``sum_x p(x) log(p(x) / q(x))``) rather than the raw text. The draft sees the same corpus.

Weights are saved in float16 to keep the repository small; :func:`specdec_lite.load_pair` loads them
as float32.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from .corpus import DOMAINS, build_corpus

TINY_DIR = Path(__file__).parent / "tiny"
SPECIALS = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"}
# Every training document follows a "</s>", so a prompt starts with one too: the tokenizer adds it
# (as Llama's adds "<s>"), and ``tokenizer(text)`` gives the models the context they were trained on.
START = "</s>"

TARGET_SHAPE = {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 6, "intermediate_size": 1024}
DRAFT_SHAPE = {"hidden_size": 128, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 384}


def train_tokenizer(texts: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (no unknown tokens: every byte has a token) that starts each text with ``</s>``."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIALS.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    add_start(tok)
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=512, **SPECIALS)


def add_start(tok: Tokenizer) -> None:
    """Make ``tok`` put ``</s>`` before every text it encodes with special tokens."""
    tok.post_processor = processors.TemplateProcessing(
        single=f"{START} $A", pair=f"{START} $A {START} $B", special_tokens=[(START, tok.token_to_id(START))]
    )


def token_stream(tokenizer: PreTrainedTokenizerFast, docs: list[str]) -> torch.Tensor:
    """All documents tokenised and joined, each ended by ``</s>``."""
    ids: list[int] = []
    for enc in tokenizer(docs, add_special_tokens=False)["input_ids"]:
        ids += enc + [tokenizer.eos_token_id]
    return torch.tensor(ids, dtype=torch.long)


def make_model(shape: dict, vocab_size: int, tokenizer: PreTrainedTokenizerFast, seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size, max_position_embeddings=512, tie_word_embeddings=True,
        num_key_value_heads=shape["num_attention_heads"], bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, **shape,
    )
    return LlamaForCausalLM(config)


def batches(stream: torch.Tensor, batch: int, length: int, seed: int):
    """Endless random windows of ``length + 1`` tokens (inputs and shifted labels)."""
    g = torch.Generator().manual_seed(seed)
    while True:
        starts = torch.randint(0, len(stream) - length - 1, (batch,), generator=g)
        yield torch.stack([stream[s : s + length + 1] for s in starts.tolist()])


def lr_at(step: int, steps: int, peak: float, warmup: int = 100) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train(model, stream, steps, *, teacher=None, batch=16, length=128, peak_lr=1e-3, seed=0, log_every=25, label=""):
    """AdamW on cross-entropy (no teacher) or on forward KL to ``teacher``'s distributions. Returns the loss log."""
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=peak_lr, betas=(0.9, 0.95), weight_decay=0.1)
    log, start = [], time.time()
    for step, window in zip(range(steps), batches(stream, batch, length, seed)):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, peak_lr)
        inputs, labels = window[:, :-1], window[:, 1:]
        logits = model(input_ids=inputs).logits
        if teacher is None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))
        else:
            with torch.no_grad():
                p_log = F.log_softmax(teacher(input_ids=inputs).logits, dim=-1)
            loss = F.kl_div(F.log_softmax(logits, dim=-1), p_log, log_target=True, reduction="batchmean") / length
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % log_every == 0 or step == steps - 1:
            log.append({"step": step, "loss": round(loss.item(), 4), "seconds": round(time.time() - start, 1)})
            print(f"{label} step {step}/{steps} loss {loss.item():.3f} ({time.time() - start:.0f}s)", flush=True)
    model.eval()
    return log


def save(model: LlamaForCausalLM, path: Path) -> None:
    """Float16 safetensors (half the bytes); the loader casts back to float32."""
    model.to(torch.float16).save_pretrained(path, safe_serialization=True)
    model.to(torch.float32)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=TINY_DIR)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chars-per-domain", type=int, default=2_000_000)
    parser.add_argument("--vocab-size", type=int, default=4096)
    parser.add_argument("--target-steps", type=int, default=800)
    parser.add_argument("--draft-steps", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    corpus = build_corpus(args.seed, args.chars_per_domain)
    train_docs = [d for dom in DOMAINS for d in corpus[dom]["train"]]
    tokenizer = train_tokenizer(train_docs, args.vocab_size)
    tokenizer.save_pretrained(out / "tokenizer")
    stream = token_stream(tokenizer, random.Random(args.seed).sample(train_docs, len(train_docs)))
    composition = {
        dom: {split: int(token_stream(tokenizer, docs).numel()) for split, docs in corpus[dom].items()} for dom in DOMAINS
    }
    print("corpus tokens:", composition, flush=True)

    target = make_model(TARGET_SHAPE, len(tokenizer), tokenizer, args.seed)
    target_log = train(target, stream, args.target_steps, seed=args.seed, label="target")
    save(target, out / "target")

    draft = make_model(DRAFT_SHAPE, len(tokenizer), tokenizer, args.seed + 1)
    draft_log = train(draft, stream, args.draft_steps, teacher=target, peak_lr=3e-3, seed=args.seed + 1, label="draft")
    save(draft, out / "draft")

    log = {
        "seed": args.seed, "chars_per_domain": args.chars_per_domain, "vocab_size": len(tokenizer),
        "corpus_tokens": composition, "batch": 16, "length": 128,
        "target": {"shape": TARGET_SHAPE, "steps": args.target_steps, "loss": target_log},
        "draft": {"shape": DRAFT_SHAPE, "steps": args.draft_steps, "objective": "forward KL to the target", "loss": draft_log},
    }
    (out / "training_log.json").write_text(json.dumps(log, indent=1))


if __name__ == "__main__":
    main()
