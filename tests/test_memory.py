"""Memory formulas against measurements on small random Llamas."""

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from conftest import make_llama
from specdec_lite.memory import (
    PeakMemory,
    dtype_weight_bytes,
    gptq_weight_bytes,
    kv_cache_bytes,
    llama_parameter_count,
    measured_cache_bytes,
    memory_report,
    weight_bytes,
)
from specdec_lite.calls import forward, new_cache


def test_kv_cache_formula_by_hand_and_measured():
    model = make_llama(0)  # 2 layers, 2 KV heads, head_dim 32 / 4 heads = 8, float32
    # 2 (K and V) x 2 layers x 2 KV heads x 8 x 10 tokens x 4 bytes = 2560
    assert kv_cache_bytes(model.config, 10) == 2560
    cache = new_cache()
    forward(model, torch.arange(10), cache)
    assert measured_cache_bytes(cache) == 2560
    forward(model, torch.arange(5), cache)
    assert measured_cache_bytes(cache) == kv_cache_bytes(model.config, 15)
    assert kv_cache_bytes(model.config, 10, torch.bfloat16) == 1280


def test_weight_bytes():
    model = make_llama(0)
    n = sum(p.numel() for p in model.parameters())
    assert weight_bytes(model) >= 4 * n  # plus the rotary buffer
    assert dtype_weight_bytes(model, torch.float32) == 4 * n
    assert dtype_weight_bytes(model, torch.bfloat16) == 2 * n


@pytest.mark.parametrize("tied, attention_bias, mlp_bias, head_dim", [
    (False, False, False, None), (True, False, False, None), (False, True, True, None), (True, False, False, 16),
])
def test_parameter_count_from_the_shape_matches_a_model(tied, attention_bias, mlp_bias, head_dim):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=96, hidden_size=48, intermediate_size=80, num_hidden_layers=3,
                         num_attention_heads=6, num_key_value_heads=2, tie_word_embeddings=tied,
                         attention_bias=attention_bias, mlp_bias=mlp_bias, head_dim=head_dim)
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    assert llama_parameter_count(config) == sum(p.numel() for p in model.parameters())


def test_parameter_count_by_hand():
    # SmolLM2-135M's published shape: 49,152 x 576 embeddings (tied), 30 layers of 9 heads, 3 KV heads of 64,
    # MLP 1536. Per layer 576*576*2 + 2*576*192 + 3*576*1536 + 2*576 = 3,540,096; total 134,515,008.
    from types import SimpleNamespace

    smol = SimpleNamespace(vocab_size=49152, hidden_size=576, num_hidden_layers=30, num_attention_heads=9,
                           num_key_value_heads=3, intermediate_size=1536, tie_word_embeddings=True)
    assert llama_parameter_count(smol) == 134_515_008
    assert llama_parameter_count(vars(smol)) == 134_515_008  # a dict of the same fields


def test_gguf_tensor_bytes_by_type(tmp_path):
    import numpy as np
    from gguf import GGMLQuantizationType, GGUFWriter, quants

    from specdec_lite.memory import gguf_tensor_bytes

    path = tmp_path / "small.gguf"
    writer = GGUFWriter(str(path), "llama")
    writer.add_tensor("norm", np.ones(64, dtype=np.float32))
    writer.add_tensor("embed", np.ones((2, 64), dtype=np.float16))
    for name in ("q", "k"):
        packed = quants.quantize(np.ones((4, 64), dtype=np.float32), GGMLQuantizationType.Q8_0)
        writer.add_tensor(name, packed, raw_shape=packed.shape, raw_dtype=GGMLQuantizationType.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    table = gguf_tensor_bytes(path).set_index("type")
    # Q8_0: 2 tensors x 256 weights in blocks of 32 -> 16 blocks of 34 bytes = 544 bytes, 8.5 bits a weight
    assert table.loc["Q8_0", ["tensors", "weights", "bytes"]].tolist() == [2, 512, 544]
    assert table.loc["Q8_0", "bits_per_weight"] == pytest.approx(8.5)
    assert table.loc["F16", "bytes"] == 256 and table.loc["F32", "bits_per_weight"] == 32
    assert table.index[0] == "Q8_0"  # largest first


def test_gptq_estimate_by_hand():
    model = make_llama(0)  # vocab 64, hidden 32, intermediate 64, 2 layers; group 128 > inputs: one group
    # per Linear: in*out/2 (4-bit) + 2*out (fp16 scales) + out/2 (4-bit zeros) + 4*in (int32 g_idx)
    # q 32x32: 512+64+16+128 = 720; k, v 32x16: 256+32+8+128 = 424 each; o: 720;
    # gate, up 32x64: 1024+128+32+128 = 1312 each; down 64x32: 1024+64+16+256 = 1360. Layer: 6272.
    # Rest in fp16: embeddings 2048 + lm_head 2048 + norms 2*2*32 + 32 = 4256 params -> 8512 bytes.
    assert gptq_weight_bytes(model) == 2 * 6272 + 8512


def _peak_mib_in_a_fresh_process(body: str) -> float:
    """``PeakMemory("cpu")``'s reading, in MiB, of ``body`` (code that uses ``peak``), in a new Python process.

    RSS depends on what the allocator kept from earlier work in the same process: in CI's shared test workers a
    64 MiB block once read 26 MiB and once 4 KiB, after other tests had run there. A new process starts clean.
    """
    code = "import gc\nimport torch\nfrom specdec_lite.memory import PeakMemory\n" + textwrap.dedent(body) + \
        "\nprint(peak.bytes / 2**20)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr
    return float(run.stdout.split()[-1])


def test_peak_memory_sees_an_allocation():
    # 64 MiB, touched: above glibc's 32 MiB mmap ceiling, so always fresh pages.
    assert _peak_mib_in_a_fresh_process("""
        with PeakMemory("cpu") as peak:
            block = torch.ones(64 * 2**20 // 4)
        """) >= 48


def test_peak_memory_is_not_lowered_by_garbage_collected_inside_the_block():
    # 40 MiB of garbage in a reference cycle, collected inside the block. Without the collection at the start of
    # PeakMemory this reads about 24 MiB for the 64 MiB block (measured: 24.1 against 64.0).
    assert _peak_mib_in_a_fresh_process("""
        class Node:
            pass

        gc.disable()
        a, b = Node(), Node()
        a.other, b.other, a.tensor = b, a, torch.ones(40 * 2**20 // 4)
        del a, b
        with PeakMemory("cpu") as peak:
            gc.collect()
            block = torch.ones(64 * 2**20 // 4)
        """) >= 48


def test_memory_report():
    target = make_llama(0, hidden=64)
    draft = make_llama(1)
    rows = {(r.item, r.how): r.bytes for r in memory_report(draft, target, torch.arange(6), 10, gamma=3)}
    tokens = 6 + 10 - 1
    for name in ("target", "draft"):
        key = f"{name} KV cache, {tokens} tokens"
        assert rows[(key, "formula")] == rows[(key, "measured")]
    assert rows[("target weights, bfloat16", "formula")] * 2 == rows[("target weights, float32", "formula")]
    assert rows[("price of speculation: draft weights + draft KV cache", "weights measured, cache formula")] == (
        weight_bytes(draft) + rows[(f"draft KV cache, {tokens} tokens", "formula")])
    assert all(b >= 0 for b in rows.values())


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_peak_memory_cuda():
    with PeakMemory("cuda") as peak:
        block = torch.ones(2**20, device="cuda")
    assert peak.bytes >= 4 * 2**20 and block.numel() > 0


def test_memory_figure():
    import matplotlib

    matplotlib.use("Agg")
    from specdec_lite.memory import rows_to_dicts
    from specdec_lite.plots import memory_plot

    rows = rows_to_dicts(memory_report(make_llama(1), make_llama(0, hidden=64), torch.arange(4), 4, gamma=2))
    figure = memory_plot(rows)
    assert figure.axes
    matplotlib.pyplot.close(figure)
