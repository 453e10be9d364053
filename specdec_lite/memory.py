"""What speculation costs in memory: weights, KV caches and the peak during generation.

Three quantities, each by formula and, where it can be, measured:

* **weights** - bytes of a model's parameters and buffers (``numel * element_size``). The target is
  shown in float32, bfloat16 (``2`` bytes a weight) and GPTQ 4-bit, whose size is estimated from the
  auto-gptq layout (see :func:`gptq_weight_bytes`) or measured on a loaded GPTQ checkpoint. A model
  that is not loaded is counted from its published shape (:func:`llama_parameter_count`);
* **KV cache** - every layer stores one key and one value vector per KV head per token:

      cache bytes = 2 x layers x kv_heads x head_dim x tokens x bytes per element

  and the measured figure is the sum of ``nbytes`` over the key and value tensors of a
  :class:`~transformers.DynamicCache` (its public ``layers[i].keys`` / ``layers[i].values``);
* **peak** - ``torch.cuda.max_memory_allocated`` on a GPU; on the CPU the highest resident set size
  (RSS) of this process, sampled every millisecond by a background thread with psutil, minus the RSS
  before the call. CPU peaks are coarse: the allocator keeps freed pages, so they can read low. Both
  start with a garbage collection: garbage (say, a model caught in a reference cycle) collected inside
  the block would otherwise lower the reading by its own size.

The memory price of speculation is the draft's weights plus the draft's KV cache.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from types import SimpleNamespace

import psutil
import torch
from transformers import PreTrainedModel

from .calls import model_device

__all__ = [
    "weight_bytes",
    "dtype_weight_bytes",
    "llama_parameter_count",
    "gguf_tensor_bytes",
    "gptq_weight_bytes",
    "kv_cache_bytes",
    "measured_cache_bytes",
    "PeakMemory",
    "MemoryRow",
    "memory_report",
    "rows_to_dicts",
]


def weight_bytes(model: torch.nn.Module) -> int:
    """Bytes of the model's parameters and buffers as loaded (GPTQ layers keep their packed weights in buffers)."""
    tensors = list(model.parameters()) + list(model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


def dtype_weight_bytes(model: torch.nn.Module, dtype: torch.dtype) -> int:
    """Bytes the model's parameters would take in ``dtype``: ``numel x element size``, no copy made."""
    return sum(p.numel() for p in model.parameters()) * torch.empty((), dtype=dtype).element_size()


def llama_parameter_count(config) -> int:
    """Parameters of a Llama-family causal LM (Llama, TinyLlama, SmolLM2) from its shape alone.

    With vocabulary ``V``, hidden size ``h``, ``L`` layers, ``n`` attention heads and ``k`` key-value
    heads of size ``d`` (``head_dim``, default ``h / n``), and MLP width ``I`` (``intermediate_size``):

        embeddings      V h
        per layer       h n d + 2 h k d + n d h     (query, key and value, output projections)
                        + 3 h I                     (gate, up and down projections of the SwiGLU MLP)
                        + 2 h                       (two RMSNorm weights)
        final norm      h
        output layer    V h, unless ``tie_word_embeddings`` (then it reuses the embeddings)

    plus the biases of the projections when ``attention_bias`` / ``mlp_bias`` are set. ``config`` is a
    transformers config, a dict of its fields (``{"hidden_size": 4096, ...}``) or anything with those
    attributes.
    """
    if isinstance(config, Mapping):
        config = SimpleNamespace(**config)
    h, n_layers, heads = config.hidden_size, config.num_hidden_layers, config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or h // heads
    width, vocab = config.intermediate_size, config.vocab_size
    layer = h * heads * head_dim + 2 * h * kv_heads * head_dim + heads * head_dim * h + 3 * h * width + 2 * h
    if getattr(config, "attention_bias", False):
        layer += heads * head_dim + 2 * kv_heads * head_dim + h
    if getattr(config, "mlp_bias", False):
        layer += 2 * width + h
    head = 0 if getattr(config, "tie_word_embeddings", False) else vocab * h
    return vocab * h + n_layers * layer + h + head


def gguf_tensor_bytes(path) -> "pd.DataFrame":
    """What a GGUF file holds, by storage type: tensors, weights, bytes and bits per weight.

    GGUF stores each tensor in one type: ``F32`` (32 bits a weight), ``F16``, or a block quantisation such
    as ``Q8_0`` (blocks of 32 weights: 32 int8 values and one float16 scale, 34 bytes, 8.5 bits a weight)
    or ``Q4_1`` (blocks of 32: 32 four-bit values, a float16 scale and a float16 minimum, 20 bytes, 5 bits
    a weight). The sizes are read from the file's own tensor table (``gguf.GGUFReader``); the rows are
    sorted by bytes, largest first.
    """
    import pandas as pd
    from gguf import GGUFReader

    rows: dict[str, dict] = {}
    for tensor in GGUFReader(path).tensors:
        row = rows.setdefault(tensor.tensor_type.name, {"type": tensor.tensor_type.name, "tensors": 0, "weights": 0,
                                                         "bytes": 0})
        row["tensors"] += 1
        row["weights"] += int(tensor.n_elements)
        row["bytes"] += int(tensor.n_bytes)
    frame = pd.DataFrame(list(rows.values()), columns=["type", "tensors", "weights", "bytes"])
    frame["bits_per_weight"] = 8 * frame["bytes"] / frame["weights"]
    return frame.sort_values("bytes", ascending=False, ignore_index=True)


def gptq_weight_bytes(model: PreTrainedModel, bits: int = 4, group_size: int = 128) -> int:
    """Estimated size of ``model`` as an auto-gptq checkpoint; embeddings, norms and ``lm_head`` stay float16.

    Each ``nn.Linear`` inside the decoder layers (``in`` inputs, ``out`` outputs, ``g = in / group_size``
    groups) becomes: packed weights ``in x out x bits / 8`` bytes, float16 scales ``2 x g x out``, packed
    zero points ``g x out x bits / 8`` and an int32 group index ``4 x in``. Everything else is counted at
    2 bytes per parameter.
    """
    quantised, total = set(), 0
    for layer in model.model.layers:
        for module in layer.modules():
            if isinstance(module, torch.nn.Linear):
                n_in, n_out = module.in_features, module.out_features
                groups = -(-n_in // group_size)
                total += n_in * n_out * bits // 8 + 2 * groups * n_out + groups * n_out * bits // 8 + 4 * n_in
                quantised.update(id(p) for p in module.parameters())
    rest = sum(p.numel() for p in model.parameters() if id(p) not in quantised)
    return total + 2 * rest


def kv_cache_bytes(config, tokens: int, dtype: torch.dtype = torch.float32) -> int:
    """``2 x layers x kv_heads x head_dim x tokens x element size`` for a model ``config``."""
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    element = torch.empty((), dtype=dtype).element_size()
    return 2 * config.num_hidden_layers * kv_heads * head_dim * tokens * element


def measured_cache_bytes(cache) -> int:
    """Sum of ``nbytes`` over every key and value tensor of a ``DynamicCache`` (public ``layers`` attribute)."""
    return sum(layer.keys.nbytes + layer.values.nbytes for layer in cache.layers if layer.keys is not None)


class PeakMemory:
    """Context manager: the peak memory used inside the block, in bytes, above what was in use before.

    ``with PeakMemory(device) as peak: ...`` then read ``peak.bytes`` (and ``peak.method``). On CUDA it
    resets and reads ``torch.cuda.max_memory_allocated``; on the CPU it samples this process's RSS.
    """

    def __init__(self, device: torch.device | str = "cpu", interval: float = 1e-3):
        self.device = torch.device(device)
        self.interval = interval
        self.bytes = 0
        self.method = "cuda.max_memory_allocated" if self.device.type == "cuda" else "process RSS, sampled"

    def __enter__(self) -> "PeakMemory":
        gc.collect()  # so that no collection inside the block frees memory counted in the baseline
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
        else:
            self._process = psutil.Process()
            self._base = self._peak = self._process.memory_info().rss
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, self._process.memory_info().rss)
            time.sleep(self.interval)

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.bytes = torch.cuda.max_memory_allocated(self.device) - self._base
        else:
            self._stop.set()
            self._thread.join()
            self._peak = max(self._peak, self._process.memory_info().rss)
            self.bytes = self._peak - self._base


@dataclass(frozen=True)
class MemoryRow:
    """One line of the memory table: what is counted, how it was obtained, and its size in bytes."""

    item: str
    how: str
    bytes: int

    @property
    def mib(self) -> float:
        return self.bytes / 2**20


def _greedy_cache(model: PreTrainedModel, input_ids: torch.Tensor, max_new_tokens: int):
    """Generate greedily with Hugging Face ``generate`` and return the KV cache it ends with."""
    ids = input_ids.reshape(1, -1).to(model_device(model))
    out = model.generate(
        ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens, min_new_tokens=max_new_tokens,
        do_sample=False, use_cache=True, return_dict_in_generate=True, pad_token_id=0,
    )
    return out.past_key_values


def memory_report(
    draft: PreTrainedModel,
    target: PreTrainedModel,
    input_ids: torch.Tensor,
    max_new_tokens: int,
    *,
    gamma: int = 4,
    gptq_model: torch.nn.Module | None = None,
) -> list[MemoryRow]:
    """The memory table for one prompt: weights, caches (formula and measured) and peaks.

    The caches are those Hugging Face ``generate`` holds after ``max_new_tokens`` greedy tokens
    (``prompt + max_new_tokens - 1`` entries: the newest token is never fed back). The peaks are taken
    around :func:`~specdec_lite.autoregressive_generate` and
    :func:`~specdec_lite.speculative_generate` with ``gamma``. ``gptq_model``, if given, is a loaded
    GPTQ checkpoint of the target whose weights are measured instead of only estimated.
    """
    from .autoregressive import autoregressive_generate
    from .speculative import speculative_generate

    tokens = input_ids.numel() + max_new_tokens - 1
    rows = [
        MemoryRow("target weights, float32", "formula", dtype_weight_bytes(target, torch.float32)),
        MemoryRow("target weights, bfloat16", "formula", dtype_weight_bytes(target, torch.bfloat16)),
        MemoryRow("target weights, GPTQ 4-bit", "formula", gptq_weight_bytes(target)),
    ]
    if gptq_model is not None:
        rows.append(MemoryRow("target weights, GPTQ 4-bit", "measured", weight_bytes(gptq_model)))
    rows += [
        MemoryRow("target weights, as loaded", "measured", weight_bytes(target)),
        MemoryRow("draft weights, as loaded", "measured", weight_bytes(draft)),
    ]
    for name, model in (("target", target), ("draft", draft)):
        cache_dtype = next(model.parameters()).dtype
        formula = kv_cache_bytes(model.config, tokens, cache_dtype)
        rows.append(MemoryRow(f"{name} KV cache, {tokens} tokens", "formula", formula))
        rows.append(MemoryRow(f"{name} KV cache, {tokens} tokens", "measured",
                              measured_cache_bytes(_greedy_cache(model, input_ids, max_new_tokens))))
    draft_dtype = next(draft.parameters()).dtype
    rows.append(MemoryRow(
        "price of speculation: draft weights + draft KV cache", "weights measured, cache formula",
        weight_bytes(draft) + kv_cache_bytes(draft.config, tokens, draft_dtype),
    ))
    device = model_device(target)
    with PeakMemory(device) as alone:
        autoregressive_generate(target, input_ids, max_new_tokens)
    with PeakMemory(device) as spec:
        speculative_generate(draft, target, input_ids, max_new_tokens, gamma=gamma)
    rows += [
        MemoryRow("peak during generation, target alone", alone.method, alone.bytes),
        MemoryRow(f"peak during generation, speculative (gamma={gamma})", spec.method, spec.bytes),
    ]
    return rows


def rows_to_dicts(rows: list[MemoryRow]) -> list[dict]:
    """The table as JSON-ready dicts with ``item``, ``how``, ``bytes`` and ``mib``."""
    return [{**asdict(r), "mib": round(r.mib, 4)} for r in rows]
