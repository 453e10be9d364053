"""Measurements for docs/gpu.md, run on a CUDA machine: ``python tools/gpu_measure.py OUT.json [--smol-draft DIR]``.

1. Tree verification cost by node count (1-128), as a ratio to a single-token cached step, on random
   Llama models of the study's shapes (TinyLlama-1.1B and Llama-2-7B) in float16, 256-token context,
   eager and sdpa attention (:func:`specdec_lite.bench.tree_verify_cost`: synchronised medians).
2. Chain and tree speed-up over the target alone, greedy, against Hugging Face assisted generation
   (:func:`specdec_lite.bench.run_bench`) on the tiny pair and, where it loads, the SmolLM2 pair.
3. Peak GPU memory (:func:`specdec_lite.memory.memory_report`) of both pairs, and of a 7B-shaped random
   target with a 1.1B-shaped random draft in float16 at 2,048 tokens of context, against the formulas.

Each part writes into one JSON file as soon as it is done, so a run cut short keeps what it measured.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

from specdec_lite.bench import BenchConfig, jsonable, run_bench, tree_verify_cost
from specdec_lite.calls import forward, new_cache
from specdec_lite.memory import PeakMemory, kv_cache_bytes, measured_cache_bytes, memory_report, rows_to_dicts, weight_bytes

SHAPES = {
    "TinyLlama-1.1B": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
                           num_key_value_heads=4),
    "Llama-2-7B": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                       num_key_value_heads=32),
}
SIZES = (1, 2, 4, 8, 16, 32, 64, 128)


def random_llama(shape: str, attn: str) -> LlamaForCausalLM:
    """A random Llama of a published shape (vocabulary 32,000), built directly on the GPU in float16."""
    config = LlamaConfig(vocab_size=32000, max_position_embeddings=4096, **SHAPES[shape])
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(config).to(torch.float16).eval()
    model.set_attn_implementation(attn)
    return model


def verify_costs(report: dict, save) -> None:
    rows = []
    for shape in SHAPES:
        for attn in ("eager", "sdpa"):
            model = random_llama(shape, attn)
            frame = tree_verify_cost(model, sizes=SIZES, context=256, repeats=30, warmup=5)
            for row in frame.to_dict("records"):
                rows.append({"model": shape, "attention": attn, "single_step_ms": frame.attrs["single_step_ms"], **row})
            print(shape, attn, frame.round(3).to_string(index=False), flush=True)
            del model
            torch.cuda.empty_cache()
            report["tree_verify_cost"] = rows
            save()


def big_pair_memory(report: dict, save) -> None:
    """Peak GPU memory of a 7B-shaped target and a 1.1B-shaped draft, float16, 2,048 tokens of context."""
    torch.cuda.empty_cache()
    with PeakMemory("cuda") as weights:
        target, draft = random_llama("Llama-2-7B", "sdpa"), random_llama("TinyLlama-1.1B", "sdpa")
    context = 2048
    prompt = torch.randint(32000, (context,), device="cuda")
    caches = {}
    with PeakMemory("cuda") as prefill:
        for name, model in (("target", target), ("draft", draft)):
            caches[name] = new_cache()
            forward(model, prompt, caches[name])
    report["big_pair_memory"] = {
        "context": context, "dtype": "float16",
        "target_weights_bytes": weight_bytes(target), "draft_weights_bytes": weight_bytes(draft),
        "weights_peak_bytes": weights.bytes,
        "target_kv_formula_bytes": kv_cache_bytes(target.config, context, torch.float16),
        "target_kv_measured_bytes": measured_cache_bytes(caches["target"]),
        "draft_kv_formula_bytes": kv_cache_bytes(draft.config, context, torch.float16),
        "draft_kv_measured_bytes": measured_cache_bytes(caches["draft"]),
        "prefill_peak_above_weights_bytes": prefill.bytes,
        "max_memory_allocated_bytes": torch.cuda.max_memory_allocated(),
    }
    print(json.dumps(report["big_pair_memory"]), flush=True)
    save()


def pair_runs(report: dict, save, name: str, smol_draft: str | None) -> None:
    from specdec_lite import load_pair, load_prompts

    pair = load_pair(name, device="cuda")
    prompts = [p for d in ("code", "math", "logic", "chat") for p in load_prompts(domain=d, prompt_set=pair.prompt_set)[:2]]
    ids = [pair.encode(p.prompt) for p in prompts]
    config = BenchConfig(max_new_tokens=64, gamma=4, depth=3, branching=2, repeats=3, gammas=(2, 3, 4, 6, 8),
                         sweep_repeats=2, c_repeats=30)
    result = run_bench(pair.draft, pair.target, ids, config, sweep=True, progress=False)
    report[f"bench_{name}"] = result.to_dict()
    print(name, result.summary.to_string(index=False), flush=True)
    save()
    rows = memory_report(pair.draft, pair.target, ids[0], 64, gamma=4)
    report[f"memory_{name}"] = rows_to_dicts(rows)
    save()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--parts", default="verify,memory,tiny,smol")
    args = parser.parse_args()
    report = {"machine": torch.cuda.get_device_name(), "python": platform.python_version(), "torch": torch.__version__,
              "transformers": transformers.__version__, "cuda": torch.version.cuda, "started": time.ctime()}

    def save():
        args.out.write_text(json.dumps(jsonable(report), indent=1) + "\n")

    parts = args.parts.split(",")
    for part, run in (("verify", lambda: verify_costs(report, save)), ("memory", lambda: big_pair_memory(report, save)),
                      ("tiny", lambda: pair_runs(report, save, "tiny", None)),
                      ("smol", lambda: pair_runs(report, save, "smol", None))):
        if part in parts:
            start = time.time()
            try:
                run()
            except Exception as error:  # keep going: the report says what failed and why
                report[f"{part}_error"] = f"{type(error).__name__}: {error}"
                print(part, "failed:", error, file=sys.stderr, flush=True)
            report[f"{part}_seconds"] = round(time.time() - start, 1)
            save()


if __name__ == "__main__":
    main()
