"""load_pair: pairs by path, GPTQ checkpoints through auto-gptq on the CPU, and its error messages.

The paper's pair cannot be downloaded here, so the loading code runs on stand-ins made by
``tests/standins.py`` in the same formats (a plain Llama checkpoint, a 4-bit GPTQ checkpoint).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import huggingface_hub
import pytest
import torch

from specdec_lite import autoregressive_generate, speculative_generate
from specdec_lite import pairs
from specdec_lite.cli import main
from specdec_lite.memory import weight_bytes
from specdec_lite.pairs import PAPER_DRAFT, PAPER_TARGET, load_pair

from conftest import make_llama, noisy_copy
from standins import make_tokenizer, save_gptq_llama, save_llama

SHAPE = {"hidden": 64, "layers": 2}


@pytest.fixture(scope="module")
def plain_pair(tmp_path_factory):
    """A draft folder without a tokenizer and a target folder with one."""
    root = tmp_path_factory.mktemp("plain")
    draft = save_llama(root / "draft", seed=1, tokenizer=False, hidden=32, layers=1)
    target = save_llama(root / "target", seed=2, **SHAPE)
    return root, draft, target


@pytest.fixture(scope="module")
def gptq_pair(tmp_path_factory):
    """A GPTQ target, its float reference, and a float draft that is a noisy copy of the reference."""
    root = tmp_path_factory.mktemp("gptq")
    reference = save_gptq_llama(root / "target", seed=3, **SHAPE)
    noisy_copy(reference, scale=0.1, seed=4).save_pretrained(root / "draft")
    return root, reference


def logits(model, ids: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model(input_ids=ids[None]).logits[0]


def test_pair_by_path(plain_pair):
    root, draft, target = plain_pair
    pair = load_pair(draft=root / "draft", target=root / "target", device="cpu")
    assert pair.device == torch.device("cpu")
    assert not pair.draft.training and not pair.target.training
    assert next(pair.target.parameters()).dtype == torch.float32
    ids = torch.tensor(pair.tokenizer("the target checks").input_ids)
    torch.testing.assert_close(logits(pair.target, ids), logits(target, ids))
    torch.testing.assert_close(logits(pair.draft, ids), logits(draft, ids))
    assert "draft" in pair.name and "target" in pair.name


def test_tokenizer_falls_back_to_the_draft(tmp_path, plain_pair):
    root, _, _ = plain_pair
    save_llama(tmp_path / "draft", seed=5, hidden=32, layers=1)
    shutil.copytree(root / "draft", tmp_path / "target")  # no tokenizer files in the target folder
    pair = load_pair(None, draft=tmp_path / "draft", target=tmp_path / "target", device="cpu")
    assert pair.tokenizer("tokens").input_ids


def test_gptq_target_loads_on_cpu_and_matches_its_reference(gptq_pair):
    root, reference = gptq_pair
    before = make_llama(11).state_dict()
    pair = load_pair(draft=root / "draft", target=root / "target", device="cpu")
    assert any("QuantLinear" in type(m).__name__ for m in pair.target.modules()), "not loaded through auto-gptq"
    assert pair.target.config.vocab_size == 320 and pair.target.config.max_position_embeddings == 256
    assert next(pair.target.parameters()).device.type == "cpu"
    ids = torch.randint(0, 320, (40,), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(logits(pair.target, ids), logits(reference, ids), atol=3e-3, rtol=0)
    # auto-gptq turns weight initialisation off while it loads; models made afterwards must not notice.
    after = make_llama(11).state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_gptq_settings_read_from_config_json(tmp_path, gptq_pair):
    root, reference = gptq_pair
    shutil.copytree(root / "target", tmp_path / "target")
    settings = json.loads((tmp_path / "target" / "quantize_config.json").read_text())
    (tmp_path / "target" / "quantize_config.json").unlink()
    config = json.loads((tmp_path / "target" / "config.json").read_text())
    config["quantization_config"] = settings
    (tmp_path / "target" / "config.json").write_text(json.dumps(config))
    pair = load_pair(draft=root / "draft", target=tmp_path / "target", device="cpu")
    ids = torch.arange(30)
    torch.testing.assert_close(logits(pair.target, ids), logits(reference, ids), atol=3e-3, rtol=0)


def test_greedy_speculative_on_gptq_target_equals_its_own_greedy_output(gptq_pair):
    root, _ = gptq_pair
    pair = load_pair(draft=root / "draft", target=root / "target", device="cpu")
    prompt = torch.tensor([5, 17, 42, 99, 7])
    expected = autoregressive_generate(pair.target, prompt, 40)
    result = speculative_generate(pair.draft, pair.target, prompt, 40, gamma=3)
    assert result.tokens.tolist() == expected.tokens.tolist()
    accepted = [node.accepted for node in result.nodes]
    assert any(accepted) and not all(accepted), "the stand-in draft should be partly right"


def test_cli_memory_loads_gptq_through_the_pairs_loader(gptq_pair, capsys):
    root, _ = gptq_pair
    before = make_llama(11).state_dict()
    members = ["--draft", str(root / "draft"), "--target", str(root / "target"), "--device", "cpu"]
    code = main(["memory", *members, "--quick", "--json", "--no-progress", "--gptq", str(root / "target")])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = json.loads(out)["rows"]
    measured = [row["bytes"] for row in rows if row["item"] == "target weights, GPTQ 4-bit" and row["how"] == "measured"]
    assert measured == [weight_bytes(pairs.load_gptq(root / "target", torch.device("cpu"), torch.float16))]
    # the loader restores what auto-gptq switches off: models made afterwards are initialised as before.
    after = make_llama(11).state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_vocabulary_mismatch_names_both_models(tmp_path):
    save_llama(tmp_path / "small", seed=1, vocab=300, hidden=32, layers=1)
    save_llama(tmp_path / "big", seed=2, vocab=320, hidden=32, layers=1)
    with pytest.raises(ValueError, match=r"(?s)small.*300.*big.*320"):
        load_pair(draft=tmp_path / "small", target=tmp_path / "big", device="cpu")


def test_paper_pair_without_cuda_says_what_to_do(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match=r"no CUDA GPU.*load_pair\('tiny'\).*CUDA GPU"):
        load_pair("paper")


def test_paper_pair_not_cached_and_offline_names_the_model(monkeypatch, tmp_path, plain_pair):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(FileNotFoundError, match=f"{PAPER_DRAFT}.*HF_HOME.*draft="):
        load_pair("paper")
    root, _, _ = plain_pair  # with a local draft, the target is the one that fails
    with pytest.raises(FileNotFoundError, match=PAPER_TARGET):
        load_pair("paper", draft=root / "draft")


def test_missing_tiny_pair_says_how_to_train_it(monkeypatch, tmp_path):
    monkeypatch.setattr(pairs, "TINY_DIR", tmp_path / "tiny")
    with pytest.raises(FileNotFoundError, match=r"python -m training\.train_tiny"):
        load_pair("tiny")


def test_tiny_folder_layout(monkeypatch, tmp_path):
    """The shipped layout, made of stand-ins: tiny/{tokenizer,target,draft}/, the tokenizer in its own folder."""
    save_llama(tmp_path / "tiny" / "target", seed=1, tokenizer=False, hidden=32, layers=1)
    save_llama(tmp_path / "tiny" / "draft", seed=2, tokenizer=False, hidden=32, layers=1)
    make_tokenizer(320).save_pretrained(tmp_path / "tiny" / "tokenizer")
    monkeypatch.setattr(pairs, "TINY_DIR", tmp_path / "tiny")
    pair = load_pair("tiny")
    assert pair.name == "tiny" and pair.device == torch.device("cpu") and len(pair.tokenizer) == 320


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown pair"):
        load_pair("huge")
    with pytest.raises(ValueError, match="both draft= and target="):
        load_pair(None, draft="somewhere")
    with pytest.raises(FileNotFoundError, match="not a local folder"):
        load_pair(draft=tmp_path / "no" / "draft", target=tmp_path / "no" / "target")


def test_tiny_pair_loads_quickly():
    if not (pairs.TINY_DIR / "target" / "config.json").exists():
        pytest.skip(f"the tiny pair is not trained yet ({pairs.TINY_DIR}); run `python -m training.train_tiny`")
    start = time.perf_counter()
    pair = load_pair("tiny")
    seconds = time.perf_counter() - start
    assert seconds < 5, f"load_pair('tiny') took {seconds:.1f} s"
    assert pair.name == "tiny" and pair.device == torch.device("cpu")
    assert next(pair.draft.parameters()).dtype == torch.float32
    assert pair.draft.config.vocab_size == pair.target.config.vocab_size >= len(pair.tokenizer)


@pytest.mark.slow
def test_auto_gptq_is_imported_lazily_and_quietly(gptq_pair):
    root, _ = gptq_pair
    script = (
        "import sys; from specdec_lite.pairs import load_pair\n"
        "assert 'auto_gptq' not in sys.modules\n"
        f"load_pair(draft={str(root / 'draft')!r}, target={str(root / 'target')!r}, device='cpu')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout + done.stderr == "", "loading a GPTQ checkpoint on the CPU should print nothing"


@pytest.mark.slow
def test_a_gptq_checkpoint_without_the_gptq_extra_says_what_to_install(gptq_pair):
    """auto-gptq is an extra (pip install 'specdec_lite[gptq]'): without it, loading a GPTQ folder names the extra."""
    root, _ = gptq_pair
    script = (
        "import sys; sys.modules['auto_gptq'] = None  # as if the gptq extra were not installed\n"
        "from specdec_lite.pairs import load_pair\n"
        "try:\n"
        f"    load_pair(draft={str(root / 'draft')!r}, target={str(root / 'target')!r}, device='cpu')\n"
        "except ImportError as err:\n"
        "    print(err)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "is a GPTQ checkpoint" in done.stdout and "specdec_lite[gptq]" in done.stdout, done.stdout


def test_pair_in_a_chosen_dtype_and_a_clear_error_for_another(plain_pair):
    root, _, _ = plain_pair
    pair = load_pair(draft=root / "draft", target=root / "target", device="cpu", dtype=torch.bfloat16)
    assert next(pair.target.parameters()).dtype == torch.bfloat16 == next(pair.draft.parameters()).dtype
    with pytest.raises(ValueError, match="dtype must be one of torch.float32, torch.float16, torch.bfloat16"):
        load_pair(draft=root / "draft", target=root / "target", device="cpu", dtype="float32")
