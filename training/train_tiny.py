"""Train the course's tiny pair: ``python -m training.train_tiny [--out DIR] [--target-steps N] ...``.

The pipeline, fully seeded: build the corpus (:mod:`training.corpus`) -> train a byte-level BPE tokenizer
-> train the target on next-token cross-entropy -> distil the draft from the target (forward KL to the
target's distributions, :func:`training.trainer.forward_kl`), on the same corpus. Both models go through the
shared loop, :func:`training.trainer.fit`, with the settings below.

Weights are saved in float16 to keep the repository small, under ``specdec_lite/zoo/tiny/`` by default;
:func:`specdec_lite.load_pair` loads them as float32.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from specdec_lite.pairs import TINY_DIR

from .corpus import DOMAINS, build_corpus
from .trainer import Schedule, fit, forward_kl, save_float16

SPECIALS = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"}
# Every training document follows a "</s>", so a prompt starts with one too: the tokenizer adds it
# (as Llama's adds "<s>"), and ``tokenizer(text)`` gives the models the context they were trained on.
START = "</s>"
BATCH, LENGTH = 16, 128
TARGET_SCHEDULE = Schedule(peak=1e-3, warmup=100, floor=0.1)
DRAFT_SCHEDULE = Schedule(peak=3e-3, warmup=100, floor=0.1)
WEIGHT_DECAY = 0.1

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


def train(model, stream, steps, schedule: Schedule, *, teacher=None, seed=0, label=""):
    """Cross-entropy (no teacher) or forward KL to ``teacher``'s distributions, on random windows of ``stream``."""
    windows = batches(stream, BATCH, LENGTH, seed)

    def loss_at(step):
        window = next(windows)
        inputs, labels = window[:, :-1], window[:, 1:]
        logits = model(input_ids=inputs).logits.flatten(0, 1)  # (positions, vocabulary)
        if teacher is None:
            return F.cross_entropy(logits, labels.reshape(-1)), {}
        with torch.no_grad():
            log_p = F.log_softmax(teacher(input_ids=inputs).logits.flatten(0, 1), dim=-1)
        return forward_kl(F.log_softmax(logits, dim=-1), log_p), {}

    return fit(model, loss_at, steps, schedule, weight_decay=WEIGHT_DECAY, log_every=25, label=label)


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
    target_log = train(target, stream, args.target_steps, TARGET_SCHEDULE, seed=args.seed, label="target")
    save_float16(target, out / "target")

    draft = make_model(DRAFT_SHAPE, len(tokenizer), tokenizer, args.seed + 1)
    draft_log = train(draft, stream, args.draft_steps, DRAFT_SCHEDULE, teacher=target, seed=args.seed + 1,
                      label="draft")
    save_float16(draft, out / "draft")

    log = {
        "seed": args.seed, "chars_per_domain": args.chars_per_domain, "vocab_size": len(tokenizer),
        "corpus_tokens": composition, "batch": BATCH, "length": LENGTH,
        "target": {"shape": TARGET_SHAPE, "steps": args.target_steps, "loss": target_log},
        "draft": {"shape": DRAFT_SHAPE, "steps": args.draft_steps, "objective": "forward KL to the target", "loss": draft_log},
    }
    (out / "training_log.json").write_text(json.dumps(log, indent=1))


if __name__ == "__main__":
    main()
