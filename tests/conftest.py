"""Shared test helpers: small random Llama models the tests build on the fly (nothing is downloaded)."""

from __future__ import annotations

import copy
import os

if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    # `make test` runs two workers on a 2-core machine: one thread each, for the notebook kernels and JupyterLab
    # they start too (they inherit this), or the workers' torch threads fight over the same cores.
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from specdec_lite.eagle import EagleConfig, EagleDrafter, EagleLayer
from specdec_lite.medusa import MedusaConfig, MedusaDrafter, MedusaHeads

torch.set_num_threads(1)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Under ``pytest -n N --dist loadgroup`` (``make test``) each test file runs in one worker, so its module
    fixtures are built once; tests that name their own ``xdist_group`` (one per notebook version) spread further."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))
    # The fixture students' autogrades are the longest groups (minutes each): handed out first, they spread over
    # both workers instead of queueing behind one at the end. The sort is stable, so the order is otherwise kept.
    items[:] = sorted(items, key=lambda item: not str(item.get_closest_marker("xdist_group").args[0]).startswith(
        "fixture_students:"))


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def make_llama(
    seed: int,
    *,
    vocab: int = 64,
    hidden: int = 32,
    layers: int = 2,
    init: float = 0.2,
    context: int = 256,
    eos_token_id: int | None = None,
    device: str = "cpu",
) -> LlamaForCausalLM:
    """A small random Llama in eval mode. A large ``init`` makes its distributions peaked, like a trained model's."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=context,
        initializer_range=init,
        bos_token_id=None,
        eos_token_id=eos_token_id,
        pad_token_id=None,
    )
    return LlamaForCausalLM(config).eval().to(device)


def noisy_copy(model: LlamaForCausalLM, scale: float, seed: int) -> LlamaForCausalLM:
    """A copy of ``model`` with Gaussian noise of relative size ``scale`` added to every weight."""
    generator = torch.Generator().manual_seed(seed)
    clone = copy.deepcopy(model)
    with torch.no_grad():
        for param in clone.parameters():
            noise = torch.randn(param.shape, generator=generator).to(param.device)
            param.add_(scale * param.std() * noise)
    return clone


@pytest.fixture
def fake_conversion(tmp_path, monkeypatch):
    """A SmolLM2 cache under tmp_path/cache whose dequantisation writes two small files; returns the list of
    staging folders it was called with (one per conversion)."""
    from specdec_lite import smol

    monkeypatch.setenv(smol.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(smol, "gguf_path", lambda: tmp_path / "fake.gguf")
    calls = []

    def dequantise(gguf, staging):
        calls.append(staging)
        (staging / "model.safetensors").write_bytes(b"weights" * 1000)
        (staging / "config.json").write_text("{}")

    monkeypatch.setattr(smol, "_dequantise", dequantise)
    return calls


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    return request.param


def randomised(model, seed: int, scale: float):
    """The model with every weight drawn afresh (normal, std ``scale``), so that its guesses are far from zero."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(scale * torch.randn(param.shape, generator=generator))
    return model.eval()


def medusa(target, shortlist=None, heads: int = 4, seed: int = 0, scale: float = 0.3) -> MedusaDrafter:
    """Random Medusa heads on ``target`` (lossless decoding must hold for any heads)."""
    config = MedusaConfig(hidden_size=target.config.hidden_size, heads=heads, vocab_size=target.config.vocab_size,
                          shortlist=shortlist)
    return MedusaDrafter.of(randomised(MedusaHeads(config), seed, scale), target)


def eagle(target, shortlist=None, seed: int = 0, scale: float = 0.3) -> EagleDrafter:
    """A random EAGLE-style layer on ``target``, its MLP twice the target's width."""
    layer = EagleLayer(EagleConfig.like(target, shortlist, intermediate_size=2 * target.config.hidden_size))
    return EagleDrafter.of(randomised(layer, seed, scale), target)
