"""Stand-in checkpoints for testing :func:`specdec_lite.load_pair` without downloading anything.

* :func:`save_llama` - a small random Llama and a tiny BPE tokenizer, saved with ``save_pretrained``;
* :func:`save_gptq_llama` - a small random Llama in auto-gptq's 4-bit GPTQ format, made on the CPU.

auto-gptq's ``quantize()`` needs CUDA, so the GPTQ stand-in is quantized here by round-to-nearest:
every linear layer of the decoder blocks gets symmetric 4-bit weights with one float16 scale per group
of ``group_size`` input features (zero point 8). auto-gptq's own ``QuantLinear.pack`` (the CPU packing
of the ``cuda-old`` layer, which is the one it loads for ``desc_act=False``) writes ``qweight``,
``qzeros``, ``scales`` and ``g_idx``. The float model whose weights are the dequantized 4-bit values is
returned as the reference the loaded checkpoint must match.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from specdec_lite.pairs import quiet_loggers

from conftest import make_llama

BITS = 4
ZERO = 2 ** (BITS - 1)  # symmetric 4-bit: integers 0..15 around a zero point of 8
TEXT = ["the draft proposes and the target checks", "speculative decoding is lossless", "tokens per call"] * 20


def make_tokenizer(vocab: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer with at most ``vocab`` tokens, trained on a few sentences."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab, special_tokens=["</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(TEXT, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="</s>")


def save_llama(folder: Path, seed: int, *, vocab: int = 320, tokenizer: bool = True, **shape) -> LlamaForCausalLM:
    """Save a random Llama (``make_llama`` arguments in ``shape``) and, if asked, a tokenizer; return the model."""
    model = make_llama(seed, vocab=vocab, **shape)
    model.save_pretrained(folder)
    if tokenizer:
        make_tokenizer(vocab).save_pretrained(folder)
    return model


def quantize_groups(weight: torch.Tensor, group_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Round ``weight`` (out, in) to 4 bits per group of inputs; return the integers and float16-exact scales.

    Integers are in ``0..15`` with shape (out, in); scales have shape (out, in // group_size).
    """
    out_features, in_features = weight.shape
    groups = weight.reshape(out_features, in_features // group_size, group_size)
    scales = (groups.abs().amax(-1) / (ZERO - 1)).clamp(min=1e-6).half().float()
    integers = torch.clamp(torch.round(groups / scales[..., None]) + ZERO, 0, 2**BITS - 1)
    return integers.reshape(out_features, in_features), scales


def dequantize(integers: torch.Tensor, scales: torch.Tensor, group_size: int) -> torch.Tensor:
    """The float weight that the 4-bit integers and scales stand for."""
    return (integers - ZERO) * scales.repeat_interleave(group_size, dim=1)


def save_gptq_llama(folder: Path, seed: int, *, group_size: int = 32, vocab: int = 320, **shape) -> LlamaForCausalLM:
    """Save a random Llama as a 4-bit GPTQ checkpoint; return the float reference (dequantized weights).

    The folder gets ``model.safetensors``, ``config.json`` and ``quantize_config.json`` as auto-gptq
    writes them, and a tokenizer, as GPTQ repositories on the hub have. Hidden sizes must be multiples of 32 (the packing puts eight 4-bit values in an int32).
    """
    with quiet_loggers("auto_gptq"):
        from auto_gptq import BaseQuantizeConfig
        from auto_gptq.nn_modules.qlinear.qlinear_cuda_old import QuantLinear

    model = make_llama(seed, vocab=vocab, **shape)
    tensors = {}
    with torch.no_grad():
        for name in linear_names(model):
            linear = model.model.layers.get_submodule(name)
            integers, scales = quantize_groups(linear.weight, group_size)
            linear.weight.copy_(dequantize(integers, scales, group_size))
            packed = QuantLinear(BITS, group_size, linear.in_features, linear.out_features, bias=False)
            g_idx = torch.arange(linear.in_features, dtype=torch.int32) // group_size
            packed.pack(linear, scales, torch.full_like(scales, ZERO), g_idx)
            prefix = f"model.layers.{name}."
            tensors[prefix + "qweight"] = packed.qweight
            tensors[prefix + "qzeros"] = packed.qzeros
            tensors[prefix + "scales"] = packed.scales.half()
            tensors[prefix + "g_idx"] = packed.g_idx
        quantized = {f"model.layers.{name}.weight" for name in linear_names(model)}
        for key, value in model.state_dict().items():
            if key not in quantized:
                tensors[key] = value.contiguous()
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    model.config.save_pretrained(folder)
    settings = BaseQuantizeConfig(bits=BITS, group_size=group_size, desc_act=False, sym=True, model_file_base_name="model")
    settings.save_pretrained(str(folder))
    make_tokenizer(vocab).save_pretrained(folder)
    return model


def linear_names(model: LlamaForCausalLM) -> list[str]:
    """Names (inside ``model.model.layers``) of the decoder blocks' linear layers."""
    return [name for name, module in model.model.layers.named_modules() if isinstance(module, torch.nn.Linear)]
