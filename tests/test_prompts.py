"""The study's prompt sets and the loader's hook for a real benchmark file."""

import json
from collections import Counter

import pytest

from specdec_lite.prompts import DOMAINS, Prompt, load_prompts


def test_shipped_set_has_50_prompts_per_domain():
    prompts = load_prompts()
    assert len(prompts) == 200
    assert Counter(p.domain for p in prompts) == {d: 50 for d in DOMAINS}
    assert len({p.id for p in prompts}) == 200
    assert all(isinstance(p, Prompt) and p.prompt.strip() for p in prompts)


def test_prompts_are_distinct_texts():
    texts = [p.prompt for p in load_prompts()]
    assert len(set(texts)) == len(texts)


def test_prompts_use_the_corpus_formats():
    cues = {"math": "Solution:", "logic": "Reasoning:", "chat": "Assistant:"}
    for domain, cue in cues.items():
        assert all(p.prompt.endswith(cue) for p in load_prompts(domain))
    assert all(p.prompt.startswith("def ") for p in load_prompts("code"))


def test_domain_filter():
    for domain in DOMAINS:
        prompts = load_prompts(domain)
        assert len(prompts) == 50 and {p.domain for p in prompts} == {domain}
        assert all(p.id.startswith(f"{domain}-") for p in prompts)


def test_bad_domain_lists_the_valid_ones():
    with pytest.raises(ValueError, match="code, math, logic, chat"):
        load_prompts("poetry")


def _write(path, records):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def test_custom_file_by_argument_and_environment(tmp_path, monkeypatch):
    path = _write(tmp_path / "bench.jsonl", [
        {"id": "b1", "domain": "math", "prompt": "What is 2 + 2?"},
        {"id": "b2", "domain": "chat", "prompt": "User: Hello!\nAssistant:"},
    ])
    assert load_prompts(path=path) == [
        Prompt("b1", "math", "What is 2 + 2?"), Prompt("b2", "chat", "User: Hello!\nAssistant:"),
    ]
    monkeypatch.setenv("SPECDEC_PROMPTS", str(path))
    assert [p.id for p in load_prompts("chat")] == ["b2"]


def test_malformed_file_names_line_and_field(tmp_path):
    path = _write(tmp_path / "bad.jsonl", [
        {"id": "b1", "domain": "math", "prompt": "1 + 1?"},
        {"id": "b2", "domain": "math"},
    ])
    with pytest.raises(ValueError, match=r"line 2.*'prompt'"):
        load_prompts(path=path)
    _write(path, ["{not json"])
    with pytest.raises(ValueError, match="line 1.*not valid JSON"):
        load_prompts(path=path)
    _write(path, [{"id": "b1", "domain": "poetry", "prompt": "x"}])
    with pytest.raises(ValueError, match="line 1.*unknown domain"):
        load_prompts(path=path)
    _write(path, [{"id": "b1", "domain": "math", "prompt": "x"}, {"id": "b1", "domain": "math", "prompt": "y"}])
    with pytest.raises(ValueError, match="line 2.*duplicate id"):
        load_prompts(path=path)
