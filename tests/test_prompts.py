"""The study's prompt sets and the loader's hook for a real benchmark file."""

import json
from collections import Counter

import pytest

from specdec_lite.prompts import DOMAINS, Prompt, load_prompts


@pytest.mark.parametrize("prompt_set", ["chat", "tiny"])
def test_shipped_sets_have_50_prompts_per_domain(prompt_set):
    prompts = load_prompts(prompt_set=prompt_set)
    assert len(prompts) == 200
    assert Counter(p.domain for p in prompts) == {d: 50 for d in DOMAINS}
    assert len({p.id for p in prompts}) == 200
    assert all(isinstance(p, Prompt) and p.prompt.strip() for p in prompts)
    assert len({p.prompt for p in prompts}) == 200


def test_chat_set_names_its_sources():
    """Code requests are 50 distinct HumanEval problems; math, logic and chat are the course's own."""
    prompts = load_prompts()
    code = [p for p in prompts if p.domain == "code"]
    assert all(p.source.startswith("HumanEval/") and "```python" in p.prompt for p in code)
    assert len({p.source for p in code}) == 50
    assert all(p.source == "course-written" for p in prompts if p.domain != "code")


def test_chat_set_is_disjoint_from_the_draft_training_instructions():
    from training.instructions import training_instructions

    training = {r["prompt"] for r in training_instructions(per_domain=800, seed=0)}
    assert not training & {p.prompt for p in load_prompts()}


def test_tiny_prompts_use_the_corpus_formats():
    cues = {"math": "Solution:", "logic": "Reasoning:", "chat": "Assistant:"}
    for domain, cue in cues.items():
        assert all(p.prompt.endswith(cue) for p in load_prompts(domain, prompt_set="tiny"))
    assert all(p.prompt.startswith("def ") for p in load_prompts("code", prompt_set="tiny"))


def test_unknown_prompt_set_names_the_shipped_ones():
    with pytest.raises(ValueError, match="chat, tiny"):
        load_prompts(prompt_set="huge")


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


def test_grounded_set_has_eight_prompts_of_each_kind_that_carry_their_input():
    """The input-grounded prompts: course-written, one domain of their own, and every one holds the text (a
    quoted passage, a code block, a list or a table) that its answer is to be built from."""
    from specdec_lite.prompts import GROUNDED

    prompts = load_prompts(prompt_set="grounded")
    assert len(prompts) == 40 and len({p.id for p in prompts}) == 40 and len({p.prompt for p in prompts}) == 40
    assert Counter(p.kind for p in prompts) == {k: 8 for k in ("rewrite", "fix", "extract", "edit-code", "passage-qa")}
    assert {p.domain for p in prompts} == {GROUNDED} and {p.source for p in prompts} == {"course-written"}
    for p in prompts:
        instruction, _, material = p.prompt.partition("\n\n")
        assert instruction and len(material) >= 60, p.id
        assert any(mark in material for mark in ('"', "```", "- ", "1. ", "{")), p.id
    assert load_prompts(GROUNDED, prompt_set="grounded") == prompts
    assert load_prompts("code", prompt_set="grounded") == []


def test_first_per_domain_keeps_file_order_within_and_across_domains():
    from specdec_lite.prompts import first_per_domain

    prompts = load_prompts()
    chosen = first_per_domain(prompts, 2)
    assert [p.id for p in chosen] == [p.id for d in DOMAINS for p in load_prompts(d)[:2]]
    assert first_per_domain(prompts, 0) == []
