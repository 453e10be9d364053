"""The target's own features over the distillation sequences, computed once and cached for the feature drafters.

Medusa's heads and the EAGLE-style layer (:mod:`specdec_lite.medusa`, :mod:`specdec_lite.eagle`) learn from
SmolLM2's last-layer hidden states ``h_t`` (after its final norm: what its output layer reads) and from its
greedy choice ``argmax p(. | x_0..x_t)`` at each position. Both come from one target pass per sequence, the
slow part of training on a CPU, so it is done once here and stored in shards under ``feature_cache/`` (not
committed: 1.15 kB per token in float16).

Sequences are taken in one seeded order that interleaves the four domains, so that a cache cut short by
``--minutes`` still holds a balanced prefix; ``--resume`` (the default when the folder exists) skips the
sequences already stored. Each shard ``shard_NNNN.npz`` holds

* ``rows`` - the sequences' indices in ``training/data/distill_data.npz``;
* ``offsets`` - where each sequence's tokens start in the flat arrays (one more entry at the end);
* ``features`` (float16, ``(tokens, H)``) and ``choice`` (uint16) - per token, ``h_t`` and the target's choice.

    python -m training.features --minutes 40        # ~500 tokens/s on this 2-core CPU, 2 threads
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from .distill_data import DATA_FILE

CACHE = Path(__file__).resolve().parents[1] / "feature_cache"


def sequence_order(data: dict, seed: int = 0) -> np.ndarray:
    """Every sequence's row, in a seeded order that takes the four domains in turn."""
    rng = np.random.default_rng(seed)
    per_domain = [rng.permutation(np.flatnonzero(data["domain"] == code)) for code in range(4)]
    width = max(map(len, per_domain))
    return np.array([rows[i] for i in range(width) for rows in per_domain if i < len(rows)], dtype=np.int64)


def sequence(data: dict, row: int, max_len: int) -> np.ndarray:
    start = data["starts"][row]
    return data["tokens"][start : start + min(int(data["lengths"][row]), max_len)].astype(np.int64)


@torch.inference_mode()
def target_features(target, seqs: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per sequence, its ``(len, H)`` float16 features and the target's ``(len,)`` greedy choices (right-padded batch)."""
    width = max(map(len, seqs))
    ids = torch.zeros((len(seqs), width), dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.from_numpy(s)
        mask[i, : len(s)] = 1
    out = target(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    hidden, choice = out.hidden_states[-1], out.logits.argmax(-1)
    return [(hidden[i, : len(s)].to(torch.float16).numpy(), choice[i, : len(s)].to(torch.int32).numpy().astype(np.uint16))
            for i, s in enumerate(seqs)]


def stored_rows(folder: Path) -> set[int]:
    return {int(r) for shard in sorted(folder.glob("shard_*.npz")) for r in np.load(shard)["rows"]}


def load_cache(folder: Path = CACHE) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``{row: (features, choice)}`` for every cached sequence."""
    cached = {}
    for shard in sorted(folder.glob("shard_*.npz")):
        with np.load(shard) as z:  # each z[name] reads the array anew: read it once
            offsets, features, choice = z["offsets"], z["features"], z["choice"]
            for i, row in enumerate(z["rows"]):
                cached[int(row)] = (features[offsets[i] : offsets[i + 1]], choice[offsets[i] : offsets[i + 1]])
    return cached


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=CACHE)
    parser.add_argument("--data", type=Path, default=DATA_FILE)
    parser.add_argument("--target", help="a converted SmolLM2 folder (default: the course's cache)")
    parser.add_argument("--sequences", type=int, default=9600, help="how many sequences of the seeded order to cache")
    parser.add_argument("--shard", type=int, default=64, help="sequences per shard")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--max-len", type=int, default=512)
    parser.add_argument("--minutes", type=float, help="stop cleanly after the shard that passes this time")
    parser.add_argument("--threads", type=int)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from .train_smol import load_target

    data = dict(np.load(args.data))
    target, _ = load_target(argparse.Namespace(target=args.target), torch.device("cpu"))
    args.out.mkdir(parents=True, exist_ok=True)
    done = stored_rows(args.out)
    todo = [int(r) for r in sequence_order(data)[: args.sequences] if int(r) not in done]
    start, tokens = time.time(), 0
    shard_index = len(list(args.out.glob("shard_*.npz")))
    for first in range(0, len(todo), args.shard):
        rows = todo[first : first + args.shard]
        seqs = [sequence(data, r, args.max_len) for r in rows]
        by_length = np.argsort([len(s) for s in seqs])  # batch similar lengths together: less padding
        results: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for b in range(0, len(rows), args.batch):
            chunk = by_length[b : b + args.batch]
            for i, result in zip(chunk, target_features(target, [seqs[i] for i in chunk])):
                results[int(i)] = result
        lengths = [len(s) for s in seqs]
        np.savez(args.out / f"shard_{shard_index:04d}.npz", rows=np.array(rows, dtype=np.int64),
                 offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                 features=np.concatenate([results[i][0] for i in range(len(rows))]),
                 choice=np.concatenate([results[i][1] for i in range(len(rows))]))
        shard_index += 1
        tokens += sum(lengths)
        seconds = time.time() - start
        print(f"{len(done) + first + len(rows)}/{args.sequences} sequences, {tokens / seconds:.0f} tokens/s "
              f"({seconds:.0f}s)", flush=True)
        if args.minutes is not None and seconds > 60 * args.minutes:
            print(f"stopped after {args.minutes} minutes; run again to continue", flush=True)
            break
    summary = {"sequences": len(stored_rows(args.out)), "threads": torch.get_num_threads(),
               "tokens_per_second_this_run": round(tokens / max(time.time() - start, 1e-9), 1)}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
