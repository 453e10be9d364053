"""The command line, in-process: documented JSON schema (docs/json_schema.md), exit codes and messages."""

import json
import string
import subprocess
import sys
from pathlib import Path

import pytest
from tokenizers import Tokenizer, models, normalizers
from transformers import PreTrainedTokenizerFast

from conftest import make_llama, noisy_copy
from specdec_lite import bench, cli, study
from specdec_lite.cli import main

NUM, INT, STR, BOOL = (int, float), int, str, bool
OPT_NUM, OPT_INT = (int, float, type(None)), (int, type(None))

BENCH = {
    "schema_version": INT, "kind": STR, "pair": STR, "device": STR, "versions": dict, "config": dict,
    "seconds": NUM, "summary": list, "outputs_match": dict, "cost": dict, "alpha": OPT_NUM,
    "gamma_sweep": list, "best_gamma": dict,
}
BENCH_CONFIG = {
    "max_new_tokens": INT, "gamma": INT, "depth": INT, "branching": INT, "repeats": INT, "warmup": INT,
    "decoders": list, "gammas": list, "sweep_repeats": INT, "c_context": INT, "c_repeats": INT,
}
BENCH_SUMMARY = {
    "decoder": STR, "runs": INT, "new_tokens": INT, "median_seconds": NUM, "tokens_per_s": NUM,
    "tokens_per_s_iqr": NUM, "speedup": NUM, "speedup_iqr": NUM, "vs_hf_assisted": OPT_NUM,
    "vs_hf_assisted_iqr": OPT_NUM, "tokens_per_target_call": OPT_NUM,
}
BENCH_COST = {"draft_step_s": NUM, "target_step_s": NUM, "c": NUM, "context": INT, "repeats": INT}
BENCH_SWEEP = {
    "gamma": INT, "alpha": NUM, "measured_speedup": NUM, "measured_speedup_iqr": NUM, "predicted_speedup": NUM,
    "predicted_speedup_verify": NUM, "verify_ratio": NUM, "measured_tokens_per_call": NUM,
    "predicted_tokens_per_call": NUM,
}
BEST_GAMMA = {"predicted": OPT_INT, "predicted_speedup": OPT_NUM, "measured": OPT_INT}

STUDY = {
    "schema_version": INT, "kind": STR, "paper": STR, "pair": STR, "device": STR, "seconds": NUM,
    "config": dict, "totals": dict, "domains": list, "depth_profile": list, "predictors": dict,
    "published": list, "findings": list, "tables": (dict, type(None)),
}
STUDY_CONFIG = {
    "mode": STR, "gamma": INT, "depth": INT, "branching": INT, "budget": OPT_INT, "temperature": NUM,
    "domains": list, "max_new_tokens": INT, "prompts_per_domain": OPT_INT, "seed": INT, "entropy": STR,
    "confidence": NUM, "n_resamples": INT,
}
STUDY_TOTALS = {"prompts": INT, "steps": INT, "nodes": INT, "accepted": INT, "acceptance_rate": OPT_NUM,
                "level_acceptance": OPT_NUM, "expected_accepted_length": OPT_NUM}
STUDY_DOMAIN = {
    "domain": STR, "prompts": INT, "steps": INT, "nodes": INT, "accepted": INT, "levels_reached": INT,
    "level_acceptance": OPT_NUM, "level_acceptance_ci_low": OPT_NUM, "level_acceptance_ci_high": OPT_NUM,
    "predicted_accepted_length": OPT_NUM, "acceptance_rate": NUM, "tested_node_acceptance": OPT_NUM,
    "acceptance_ci_low": OPT_NUM, "acceptance_ci_high": OPT_NUM, "alpha": OPT_NUM,
    "expected_accepted_length": NUM, "accepted_length_ci_low": OPT_NUM, "accepted_length_ci_high": OPT_NUM,
    "mean_entropy": NUM, "mean_target_entropy": NUM, "entropy_r": OPT_NUM, "entropy_r_ci_low": OPT_NUM, "entropy_r_ci_high": OPT_NUM,
    "entropy_r_p": OPT_NUM,
}
STUDY_DEPTH = {"domain": STR, "depth": INT, "nodes": INT, "accepted": INT, "acceptance_rate": NUM,
               "tested": INT, "conditional_rate": OPT_NUM}
STUDY_FIT = {"formula": STR, "pseudo_r2": NUM, "aic": NUM, "auc": NUM, "parameters": INT, "llr_pvalue": NUM}
STUDY_JOINT_FIT = STUDY_FIT | {"domain_wald_p": NUM, "depth_wald_p": NUM}
STUDY_PUBLISHED = {
    "domain": STR, "acceptance_ours": OPT_NUM, "acceptance_published": OPT_NUM, "accepted_length_ours": OPT_NUM,
    "accepted_length_from_rate_ours": OPT_NUM, "accepted_length_published": OPT_NUM,
    "accepted_length_from_rate_published": OPT_NUM, "entropy_r_ours": OPT_NUM, "entropy_r_published_low": NUM,
    "entropy_r_published_high": NUM,
}
FINDING = {"finding": STR, "holds": (bool, type(None))}


def check(obj: dict, schema: dict) -> None:
    """Exactly the documented keys, each of the documented type (bool is not accepted as a number)."""
    assert set(obj) == set(schema), set(obj) ^ set(schema)
    for key, kind in schema.items():
        assert isinstance(obj[key], kind), (key, obj[key])
        if kind in (NUM, OPT_NUM, INT, OPT_INT):
            assert not isinstance(obj[key], bool), key


def _tokenizer() -> PreTrainedTokenizerFast:
    """A character-level tokenizer of 50 symbols (no merges), enough for prompts in English."""
    symbols = ["<unk>", "</s>", " "] + list(string.ascii_lowercase + string.digits + ".,?!'-:;()=+*/")
    tokenizer = Tokenizer(models.BPE(vocab={s: i for i, s in enumerate(symbols)}, merges=[], unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Lowercase()
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", eos_token="</s>")


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A random draft/target pair saved with save_pretrained; the target's folder holds the tokenizer."""
    root = tmp_path_factory.mktemp("pair")
    target = make_llama(0, hidden=32, layers=2, init=0.4, context=2048)
    draft = noisy_copy(target, 0.1, seed=1)
    target.save_pretrained(root / "target")
    draft.save_pretrained(root / "draft")
    _tokenizer().save_pretrained(root / "target")
    return ["--draft", str(root / "draft"), "--target", str(root / "target"), "--no-progress"]


def run(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_bench_json_schema(checkpoints, capsys, tmp_path):
    code, out, err = run(capsys, ["bench", *checkpoints, "--quick", "--json", "--domain", "chat",
                                  "--domain", "code", "--out", str(tmp_path), "--plots"])
    assert code == 0, err
    report = json.loads(out)
    check(report, BENCH)
    assert report["schema_version"] == 1 and report["kind"] == "bench"
    check(report["config"], BENCH_CONFIG)
    check(report["cost"], BENCH_COST)
    check(report["best_gamma"], BEST_GAMMA)
    assert {row["decoder"] for row in report["summary"]} == set(report["config"]["decoders"])
    for row in report["summary"]:
        check(row, BENCH_SUMMARY)
    for row in report["gamma_sweep"]:
        check(row, BENCH_SWEEP)
    assert all(isinstance(v, bool) for v in report["outputs_match"].values())
    assert json.loads((tmp_path / "bench.json").read_text()) == report
    assert (tmp_path / "bench_runs.csv").exists() and (tmp_path / "speedup.png").exists()


def test_study_json_schema(checkpoints, capsys, tmp_path):
    code, out, err = run(capsys, ["study", *checkpoints, "--quick", "--json", "--mode", "chain", "--gamma", "3",
                                  "--out", str(tmp_path), "--plots"])
    assert code == 0, err
    report = json.loads(out)
    check(report, STUDY)
    assert report["schema_version"] == 2 and report["kind"] == "study"
    check(report["config"], STUDY_CONFIG)
    check(report["totals"], STUDY_TOTALS)
    for row in report["domains"]:
        check(row, STUDY_DOMAIN)
    for row in report["depth_profile"]:
        check(row, STUDY_DEPTH)
    for row in report["published"]:
        check(row, STUDY_PUBLISHED)
    for row in report["findings"]:
        check(row, FINDING)
    predictors = report["predictors"]
    assert set(predictors) == {"outcome", "levels", "domain", "depth", "both", "domain_better", "verdict"}
    if predictors["domain"] is not None:
        check(predictors["domain"], STUDY_FIT)
        check(predictors["depth"], STUDY_FIT)
        check(predictors["both"], STUDY_JOINT_FIT)
    for name in ("study.json", "nodes.csv", "steps.csv", "depth_profile.png", "accepted_length.png"):
        assert (tmp_path / name).exists(), name


def test_study_tables_merge_runs_on_disjoint_prompts(checkpoints, capsys, tmp_path):
    """Two runs on different domains, merged with --tables, give the study of both domains run at once."""
    common = ["study", *checkpoints, "--quick", "--json", "--mode", "chain", "--format", "csv.gz"]
    for domain in ("code", "math"):
        code, out, err = run(capsys, [*common, "--domain", domain, "--out", str(tmp_path / domain)])
        assert code == 0, err
    code, out, err = run(capsys, [*common, "--domain", "code", "--domain", "math"])
    assert code == 0, err
    together = json.loads(out)
    code, out, err = run(capsys, ["study", "--json", "--tables", str(tmp_path / "code"), "--tables",
                                  str(tmp_path / "math"), "--out", str(tmp_path / "merged")])
    assert code == 0, err
    merged = json.loads(out)
    assert merged["totals"] == together["totals"] | {"prompts": together["totals"]["prompts"]}
    assert [row["domain"] for row in merged["domains"]] == ["code", "math"]
    assert [row["accepted"] for row in merged["domains"]] == [row["accepted"] for row in together["domains"]]
    assert (tmp_path / "merged" / "nodes.csv").exists()
    code, out, err = run(capsys, ["study", "--tables", str(tmp_path / "code"), "--tables", str(tmp_path / "code")])
    assert code == 2 and "share prompts" in err
    code, out, err = run(capsys, ["study", "--tables", str(tmp_path / "nowhere")])
    assert code == 2 and "study.json is missing" in err


def test_study_text_report(checkpoints, capsys):
    code, out, err = run(capsys, ["study", *checkpoints, "--quick", "--prompts", "1"])  # tree, depth 3, branching 2
    assert code == 0, err
    assert "published" in out and "Verdict" in out


def test_generate_and_memory(checkpoints, capsys):
    code, out, err = run(capsys, ["generate", *checkpoints, "--prompt", "hello there", "--max-new-tokens", "8",
                                  "--json"])
    assert code == 0, err
    report = json.loads(out)
    assert report["kind"] == "generate" and len(report["tokens"]) <= 8
    code, out, err = run(capsys, ["memory", *checkpoints, "--quick", "--json"])
    assert code == 0, err
    rows = json.loads(out)["rows"]
    assert all(set(r) == {"item", "how", "bytes", "mib"} and isinstance(r["bytes"], int) for r in rows)


@pytest.mark.parametrize("argv, message", [
    ([], "required"),
    (["bench", "--gamma", "0"], "must be at least 1"),
    (["study", "--temperature", "-1"], "must be >= 0"),
    (["study", "--domain", "poetry"], "invalid choice"),
    (["study", "--draft", "somewhere"], "--draft and --target go together"),
    (["study", "--draft", "/no/such/dir", "--target", "/no/such/dir"], "no checkpoint folder"),
    (["study", "--pair", "tiny", "--draft", "a", "--target", "b"], "drop --pair"),
    (["study", "--plots"], "--plots needs --out"),
    (["bench", "--plots"], "--plots needs --out"),
    (["generate", "--prompt", "x", "--prompt-domain", "code"], "add --drafter auto"),
    (["generate", "--prompt", "x", "--drafter", "auto", "--decoder", "tree"], "use them with --decoder chain"),
])
def test_usage_errors_exit_2(argv, message, capsys):
    code, out, err = run(capsys, argv)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_runtime_error_exits_1_in_one_line(checkpoints, capsys):
    code, out, err = run(capsys, ["generate", *checkpoints, "--prompt", "hi", "--max-new-tokens", "5000"])
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("specdec-lite generate: error:") and "context" in lines[0]


def test_schema_versions_in_the_docs_are_the_constants():
    docs = (Path(__file__).parents[1] / "docs" / "json_schema.md").read_text()
    stated = f'`"schema_version"` ({bench.SCHEMA_VERSION}; the study\'s is {study.SCHEMA_VERSION})'
    assert stated in docs and cli.SCHEMA_VERSION == bench.SCHEMA_VERSION
    assert f"| `schema_version` | int | {bench.SCHEMA_VERSION} |" in docs
    assert f"| `schema_version` | int | {study.SCHEMA_VERSION} (" in docs


def test_help_exits_0(capsys):
    assert main(["--help"]) == 0
    assert "generate" in capsys.readouterr().out


def test_python_dash_m():
    done = subprocess.run([sys.executable, "-m", "specdec_lite", "bench", "--gamma", "x"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "expected a whole number" in done.stderr
