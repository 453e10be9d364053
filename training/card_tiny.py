"""Render the tiny pair's ``MODEL_CARD.md`` and ``loss_curves.png`` from ``training_log.json`` and ``eval.json``.

Every figure in the card is read from those two files, which ``python -m training.train_tiny`` and
``python -m training.evaluate_tiny`` write; the prose around them is fixed here.
"""

from __future__ import annotations

from pathlib import Path

from specdec_lite.prompts import DOMAINS

from .card import table

INTRO = """# The course's own draft/target pair (`specdec_lite/zoo/tiny/`)

Two small Llama models that share one byte-level BPE tokenizer, trained from scratch on a 2-core CPU
for the course's reproduction of "Acceptance Dynamics Across Cognitive Domains in Speculative
Decoding" (TinyLlama-1.1B drafting for Llama-2-7B-Chat, on code, math, logic and chat prompts).
They stand in for that pair where there is no GPU and no network. They are teaching models: they
continue text in the four formats of their corpus and know nothing else.

```python
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("specdec_lite/zoo/tiny/tokenizer")
target = AutoModelForCausalLM.from_pretrained("specdec_lite/zoo/tiny/target", dtype=torch.float32)
draft = AutoModelForCausalLM.from_pretrained("specdec_lite/zoo/tiny/draft", dtype=torch.float32)
ids = tokenizer("User: How can I sleep better?\\nAssistant:", return_tensors="pt").input_ids
```

In training every document follows a `</s>`, and the tokenizer puts `</s>` before every text it
encodes with special tokens, so a prompt starts as a training document does. Weights are stored in
float16 and loaded as float32.
"""

DATA = """## Data

A seeded corpus built offline by `training/corpus.py` (seed {seed}, {chars:,} characters per domain):

* **code** - chunks of the Python standard library's own source (`sysconfig.get_paths()["stdlib"]`,
  sorted file list, seeded choice; tests, demos and third-party packages left out);
* **math** - generated arithmetic word problems with worked, step-by-step solutions
  (`Problem: ...` / `Solution: ...`);
* **logic** - generated syllogisms, orderings and truth-teller puzzles with their reasoning
  (`Puzzle: ...` / `Reasoning: ...`);
* **chat** - generated user/assistant dialogues in a polite, formulaic assistant register
  (`User: ...` / `Assistant: ...`).

Sizes in tokens of the shared tokenizer (2% of each domain's documents held out):

| domain | train tokens | held-out tokens | held-out documents | of which also in train |
|---|---|---|---|---|
{rows}

The generated domains are templated, so documents repeat: the chat generator yields only a few
hundred distinct dialogues, and the held-out column shows how many held-out documents also occur in
the training split. Held-out perplexity is therefore a memorisation figure for chat (and partly
logic), not a generalisation figure.

Tokenizer: byte-level BPE trained with `tokenizers` on the training split, vocabulary {vocab:,}
with `<s>`, `</s>` and `<pad>`, saved as a `PreTrainedTokenizerFast`.

The study's prompts (`specdec_lite/data/prompts.jsonl`, written by `training/prompts_tiny.py`)
use the same surface formats; none occurs verbatim in the training corpus (checked by
`tests/test_zoo.py`). Code and chat prompts are written for the course; math and logic prompts come
from the corpus generators with a seed the corpus never uses.
"""

MODELS = """## Models

| model | hidden | layers | heads | MLP | parameters | tied embeddings |
|---|---|---|---|---|---|---|
{rows}

Goals: at most 40 MB shipped, loading in under 5 s, and a cost ratio c = T(draft step) /
T(target step) of at most 0.15. On a CPU a small model's cost per token is mostly fixed overhead
per call and per layer, so the draft is kept much shallower than the target, and the target is as
large as the size goal and the training time allow. Whether each goal was met is stated with
the measurements below.

**Draft objective: distillation.** The draft is trained on the same corpus to match the target's
next-token distributions (forward KL, sum_x p(x) log(p(x)/q(x))) rather than the text itself.
Speculative decoding only rewards agreement with the target, and the target's soft distributions
carry more information per token than one-hot labels, which helps a model this small.
"""

TRAINING = """## Training

Command (2-core CPU, no GPU, the machine shared with other work):

```bash
{command}
```

AdamW (betas 0.9/0.95, weight decay 0.1), batches of {batch} windows of {length} tokens, peak learning
rate 1e-3 for the target and 3e-3 for the draft, linear warm-up for 100 steps then cosine decay to a
tenth of the peak; gradient clipping at 1.0. Fixed seeds throughout.

| model | objective | steps | tokens seen | first loss | last loss | seconds |
|---|---|---|---|---|---|---|
{rows}

![loss curves](loss_curves.png)
"""

EVALUATION = """## Measurements

Command: `{command}` on the 2-core CPU, {threads} thread(s), {machine_load}; figures are in `eval.json`.

* Shipped size (tokenizer + target + draft): **{mb:.1f} MB** ({mb_ok} the 40 MB goal); load time of
  all three with `from_pretrained`: **{load:.2f} s** (median of 3; {load_ok} the 5 s goal).
* One cached forward pass of one token behind a 64-token context (median after warm-up rounds, as
  `specdec_lite.bench.cost_coefficient` measures it): draft **{draft_ms:.2f} ms**, target
  **{target_ms:.2f} ms**, so **c = {c:.3f}** ({c_ok} the 0.15 goal); the target scoring
  {verify_tokens} tokens at once takes {target_ms_verify:.2f} ms.

### Held-out perplexity

| domain | held-out tokens | target | draft |
|---|---|---|---|
{ppl_rows}

### Acceptance per domain

Greedy chain speculative decoding with gamma {gamma}, up to 64 new tokens per prompt (stopping at
`</s>`), all prompts of each domain:

| domain | prompts | drafted tokens | acceptance rate | accepted per step | tokens per target call |
|---|---|---|---|---|---|
{acc_rows}

Overall acceptance: **{acc_all:.3f}** ({acc_ok} the 0.4-0.9 band the course aims for). These are the
figures as measured; the models, corpus and prompts were not tuned toward any domain ordering.

### Wall-clock speed-up on the chat prompts

Median over the {n_chat} chat prompts of (target alone) / (speculative) wall time, greedy, same
output checked token for token; target alone runs at {tps:.0f} tokens/s.

| gamma | {gammas} |
|---|{dashes}
| speed-up | {speedups} |

Best: **{best:.2f}x at gamma {best_gamma}** ({speed_ok} the 1.5x the course aims for).

### Sample greedy continuations (target)

{samples}

## Limitations

* The pair saw only the tokens in the training table: it reproduces the *formats* of its corpus far
  better than their *content*. Read the samples: numbers, names and answers drift from the prompt,
  chat replies fall back on memorised templates whatever the request, and code can collapse into
  repetition. Repetitive or templated continuations are easy to draft, which raises acceptance.
* The chat corpus holds only a few hundred distinct dialogues (see the data table), so the chat
  figures partly measure memorisation; compare domains with that in mind, and use the hook in
  `specdec_lite.prompts.load_prompts` (``path=`` or ``SPECDEC_PROMPTS``) with a real pair for the study.
* Timings come from one run on a 2-core CPU (its load is given above); the speed-up is a median over
  prompts and varies from run to run. The best gamma may lie beyond the largest one measured.
"""


def _verdict(ok: bool) -> str:
    return "within" if ok else "NOT within"


def _reached(ok: bool) -> str:
    return "reaching" if ok else "NOT reaching"


def _data(log: dict, ev: dict) -> str:
    rows = []
    for domain in DOMAINS:
        tokens, ppl = log["corpus_tokens"][domain], ev["perplexity"][domain]
        rows.append([domain, f"{tokens['train']:,}", f"{tokens['held_out']:,}",
                     ppl["documents"], ppl["documents_also_in_train"]])
    return DATA.format(seed=log["seed"], chars=log["chars_per_domain"], vocab=log["vocab_size"], rows=table(rows))


def _models(log: dict, ev: dict) -> str:
    rows = []
    for name in ("target", "draft"):
        s = log[name]["shape"]
        rows.append([name, s["hidden_size"], s["num_hidden_layers"], s["num_attention_heads"], s["intermediate_size"],
                     f"{ev['parameters'][name] / 1e6:.2f}M", "yes"])
    return MODELS.format(rows=table(rows))


def _training(log: dict) -> str:
    tokens_per_step = log["batch"] * log["length"]
    rows = []
    for name in ("target", "draft"):
        part, loss = log[name], log[name]["loss"]
        rows.append([name, part.get("objective", "cross-entropy"), part["steps"],
                     f"{part['steps'] * tokens_per_step:,}", loss[0]["loss"], loss[-1]["loss"], loss[-1]["seconds"]])
    steps = f"--target-steps {log['target']['steps']} --draft-steps {log['draft']['steps']}"
    command = log.get("command") or f"python -m training.train_tiny {steps}"
    return TRAINING.format(command=command, batch=log["batch"], length=log["length"], rows=table(rows))


def _samples(ev: dict) -> str:
    blocks = []
    for domain, sample in ev["samples"].items():
        blocks.append(f"**{domain}** (`{sample['id']}`; the prompt, then the continuation):\n\n"
                      f"```text\n{sample['prompt']}{sample['continuation']}\n```")
    return "\n\n".join(blocks)


def _machine_load(ev: dict) -> str:
    """How busy the machine was when the measurement started (older reports did not record it)."""
    if "load_average_before" not in ev:
        return "load not recorded"
    return f"load average {ev['load_average_before'][0]:.2f} at the start"


def _evaluation(ev: dict) -> str:
    cost, acc, speed = ev["cost"], ev["acceptance"], ev["speedup_chat"]
    ppl, by_gamma = ev["perplexity"], speed["median_speedup_by_gamma"]
    acc_columns = ("prompts", "drafted", "acceptance_rate", "accepted_per_step", "tokens_per_target_call")
    return EVALUATION.format(
        command=ev["command"], threads=ev["threads"], machine_load=_machine_load(ev), mb=ev["shipped_mb"],
        load=ev["load_seconds"], **cost,
        ppl_rows=table([[d, ppl[d]["tokens"], ppl[d]["target"], ppl[d]["draft"]] for d in DOMAINS]),
        gamma=acc["gamma"],
        acc_rows=table([[d] + [acc[d][column] for column in acc_columns] for d in DOMAINS]),
        acc_all=acc["all"]["acceptance_rate"],
        n_chat=speed["prompts"], tps=speed["target_alone_tokens_per_s"],
        gammas=" | ".join(by_gamma), dashes="---|" * len(by_gamma),
        speedups=" | ".join(f"{v:.2f}x" for v in by_gamma.values()),
        best=speed["best_speedup"], best_gamma=speed["best_gamma"],
        samples=_samples(ev),
        mb_ok=_verdict(ev["shipped_mb"] <= 40),
        load_ok=_verdict(ev["load_seconds"] < 5),
        c_ok=_verdict(cost["c"] <= 0.15),
        acc_ok=_verdict(0.4 <= acc["all"]["acceptance_rate"] <= 0.9),
        speed_ok=_reached(speed["best_speedup"] >= 1.5),
    )


def plot_losses(log: dict, path: Path) -> None:
    """A small PNG of the training losses (target cross-entropy, draft KL to the target)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for ax, name in zip(axes, ("target", "draft")):
        points = log[name]["loss"]
        ax.plot([p["step"] for p in points], [p["loss"] for p in points])
        ax.set(title=f"{name}: {log[name].get('objective', 'cross-entropy')}", xlabel="step", ylabel="loss", yscale="log")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def render(log: dict, ev: dict) -> str:
    """The model card's markdown."""
    return "\n".join([INTRO, _data(log, ev), _models(log, ev), _training(log), _evaluation(ev)])


def write(directory: Path, log: dict, ev: dict) -> None:
    (directory / "MODEL_CARD.md").write_text(render(log, ev))
