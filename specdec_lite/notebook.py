"""Helpers that only the lesson notebooks use: self-checks, set-up, small displays and widgets.

The library proper (decoders, measurements, plots) lives in the other modules; this one holds what a
notebook needs around it, so that no helper is ever copied from one notebook into another. Every lesson
imports it as ``from specdec_lite import notebook as nb``.

* Set-up: :func:`setup` (seeds, quiet warnings, the device), :func:`versions`.
* Self-checks in test cells: :func:`check` raises an ``AssertionError`` whose message teaches (it says
  what went wrong in words, never the expected value); :func:`record_calls` lists what a model was fed.
* Hidden tests: :func:`forbidden` / :func:`own` make the library's reference raise while the learner's
  function runs (an answer must be the learner's own code); :func:`close`, :func:`as_float64` and
  :func:`int_list` compare what the exercise text allows (any float dtype, lists or tuples) in float64.
* Committed results: :func:`results_path` finds a file under the repository's ``results/`` folder, where
  measurements too slow for a lesson's 3 minutes are kept (each with the command that regenerates it);
  :func:`load_study` reads back a study saved by ``specdec-lite study --out``, and :func:`study_command`
  gives the command line that reruns it.
* Lessons 7 and 8: :func:`simulated_study` (node and step tables of a made-up study with known rates, for
  demonstrations and hidden tests), :func:`ranked` (values in prose, highest first).
* Display: :func:`show_markdown` (prose built from measured numbers), :func:`token_html`.
* Widgets: :func:`step_through`, the step-through visualiser of a speculative generation, built on the
  pure function :func:`step_html`. Its controls carry stable descriptions and CSS classes for browser
  tests: buttons "Previous step" (``specdec-step-prev``) and "Next step" (``specdec-step-next``), the
  slider "Step" (``specdec-step-slider``), the HTML view (``specdec-step-view``; each rendering holds an
  element with ``data-step="<n>"``), all in a box ``specdec-step-through``. Tokens are spans with the
  classes ``specdec-accepted`` (green), ``specdec-rejected`` (red, struck through) and
  ``specdec-target`` (blue).
* Lessons 5 and 6: :func:`speedup_explorer`, sliders over a measured speed-up grid, built on the pure
  function :func:`speedup_page`. Its controls carry stable descriptions and CSS classes for browser tests:
  the slider "gamma" (``specdec-speedup-gamma``, integers), the slider "temperature"
  (``specdec-speedup-temperature``), the HTML view (``specdec-speedup-view``; each rendering holds an
  element of class ``specdec-speedup-page`` with ``data-gamma="<g>"`` and ``data-temperature="<t>"``, a
  sentence, a PNG plot and a table ``specdec-speedup-table``), all in a box ``specdec-speedup``. Also
  :func:`gpu_run` (a committed GPU measurement from ``docs/gpu_runs/``) and :func:`format_bytes`.

Graded test cells must stay silent on stderr: nothing here writes there or shows progress bars.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import functools
import html
import io
import json
import logging
import math
import numbers
import platform
import random
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

__all__ = [
    "setup",
    "versions",
    "check",
    "results_path",
    "record_calls",
    "forbidden",
    "own",
    "close",
    "as_float64",
    "int_list",
    "show_markdown",
    "token_html",
    "step_html",
    "step_through",
]

ACCEPTED_COLOUR = "#b7e4b0"
REJECTED_COLOUR = "#f4b6b6"
TARGET_COLOUR = "#b3d1f5"


# --- Set-up -------------------------------------------------------------------------------------------


def setup(seed: int = 0) -> str:
    """Seed Python, NumPy and torch, silence the warnings the lessons expect, and return the device to use.

    The device is ``"cuda"`` when a GPU is present, else ``"cpu"``. Only known, harmless noise is
    silenced (transformers' info/warning logs, deprecation notices from libraries), so that a notebook's
    cells write nothing to stderr; real errors still show.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    logging.getLogger("auto_gptq").setLevel(logging.ERROR)
    for category in (DeprecationWarning, FutureWarning, PendingDeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("ignore", message=".*generation flags are not valid.*")
    return "cuda" if torch.cuda.is_available() else "cpu"


def versions() -> dict[str, str]:
    """The versions that matter when asking for help: Python, torch, transformers, specdec_lite, and the device."""
    import transformers

    from . import __version__

    if torch.cuda.is_available():
        device = f"GPU: {torch.cuda.get_device_name(0)}"
    else:
        device = f"CPU only ({torch.get_num_threads()} thread(s))"
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "specdec_lite": __version__,
        "device": device,
    }


# --- Committed results --------------------------------------------------------------------------------

RESULTS = Path(__file__).resolve().parents[1] / "results"


def results_path(*parts: str) -> Path:
    """The path of a committed result, ``results/<parts...>`` in the course's repository.

    Raises ``FileNotFoundError`` naming the file and how to get it back when it is missing (the package
    was installed without the repository, or the file was deleted).
    """
    return _committed(RESULTS.joinpath(*parts), "the lessons' committed results", "results/",
                      ", or run the cell that regenerates it")


def _committed(path: Path, what: str, folder: str, otherwise: str = "") -> Path:
    """``path``, or a ``FileNotFoundError`` saying that ``what`` live in the repository's ``folder`` and how to restore it."""
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: {what} live in the course repository's {folder} folder. Run the lesson from a "
            f"clone of the course (`git checkout -- {folder}` restores a deleted file){otherwise}."
        )
    return path


# --- Self-checks ----------------------------------------------------------------------------------------


def check(condition, message: str) -> None:
    """Raise ``AssertionError(message)`` unless ``condition`` holds.

    Write ``message`` for a learner: what is wrong and where to look, in words, without the expected
    answer (e.g. "your loop feeds the whole sequence at every step: feed only what the cache has not seen").
    """
    if not condition:
        raise AssertionError(message)


@contextlib.contextmanager
def record_calls(model: torch.nn.Module):
    """Inside the block, append to the yielded list the number of tokens ``model`` is fed at each forward call.

    >>> with record_calls(target) as fed:
    ...     my_decoder(target, prompt, 5)
    >>> fed            # e.g. [12, 1, 1, 1, 1] for a cached loop over a 12-token prompt
    """
    fed: list[int] = []

    def hook(module, args, kwargs):
        ids = kwargs.get("input_ids")
        if ids is None and args:
            ids = args[0]
        embeds = kwargs.get("inputs_embeds")
        if ids is not None:
            fed.append(int(ids.shape[-1]))
        elif embeds is not None:
            fed.append(int(embeds.shape[-2]))

    handle = model.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        yield fed
    finally:
        handle.remove()


# --- Hidden tests: the learner's own code, compared in float64 --------------------------------------------

_FORBIDDEN_CALLS: list[str] = []  # names of references called while forbidden (an answer may catch the error)


def _reference_function(reference):
    """The plain function whose ``__code__`` stands for ``reference`` (a function, method or property)."""
    import inspect

    if isinstance(reference, property):
        reference = reference.fget
    reference = getattr(reference, "__func__", reference)
    reference = inspect.unwrap(reference)  # decorators such as torch.no_grad keep the real code inside
    if not hasattr(reference, "__code__"):
        raise TypeError(f"cannot forbid {reference!r}: it is not a Python function")
    return reference


def _reference_name(function) -> str:
    module = function.__module__ or ""
    return f"{module}.{function.__qualname__}" if module else function.__qualname__


@functools.lru_cache(maxsize=None)
def _raising_code(name: str, freevars: int):
    """A code object that records ``name`` in ``_FORBIDDEN_CALLS`` and raises, with ``freevars`` free variables.

    A function's ``__code__`` can only be replaced by one with as many free variables, so the raiser
    mentions that many dummy closure names (their values are never read).
    """
    message = (f"this exercise asks for your own code, not {name}: write the computation yourself "
               "(the exercise text says which library helpers you may use).")
    cells = [f"_cell{i}" for i in range(freevars)]
    lines = [f"__import__('specdec_lite.notebook', fromlist=['_'])._FORBIDDEN_CALLS.append({name!r})",
             f"raise AssertionError({message!r})"]
    if cells:
        lines.insert(0, f"({', '.join(cells)},)")
    source = "def _outer():\n" + "".join(f"    {c} = None\n" for c in cells)
    source += "    def _raiser(*args, **kwargs):\n" + "".join(f"        {line}\n" for line in lines)
    source += "    return _raiser\n"
    namespace: dict = {}
    exec(compile(source, f"<forbidden {name}>", "exec"), namespace)
    return namespace["_outer"]().__code__


@contextlib.contextmanager
def forbidden(*references):
    """Inside the block, every reference (function, method or property) raises an ``AssertionError`` when called.

    For hidden tests: the learner's function runs inside the block, so an answer that delegates to the
    library function it was asked to write fails, whatever name it was imported under and even through
    another library function that calls it (each reference's ``__code__`` is swapped, and restored on exit).
    An answer that catches the error still fails: leaving the block raises if a reference was called.
    """
    functions = []
    for reference in references:
        function = _reference_function(reference)
        if all(function is not f for f in functions):
            functions.append(function)
    saved = [f.__code__ for f in functions]
    start = len(_FORBIDDEN_CALLS)
    try:
        for function in functions:
            function.__code__ = _raising_code(_reference_name(function), len(function.__code__.co_freevars))
        yield
    finally:
        for function, code in zip(functions, saved):
            function.__code__ = code
    called = _FORBIDDEN_CALLS[start:]
    del _FORBIDDEN_CALLS[start:]
    if called:
        raise AssertionError(f"this exercise asks for your own code, not {called[0]}: write the computation yourself.")


def own(function, *references):
    """``function`` wrapped so that every call runs inside ``forbidden(*references)`` (for hidden tests)."""

    def wrapped(*args, **kwargs):
        with forbidden(*references):
            return function(*args, **kwargs)

    wrapped.__name__ = getattr(function, "__name__", "answer")
    return wrapped


def as_float64(value) -> np.ndarray:
    """``value`` (a number, a sequence, a NumPy array or a tensor of any dtype and device) as a float64 array."""
    if torch.is_tensor(value):
        return value.detach().cpu().to(torch.float64).numpy()
    return np.asarray(value, dtype=np.float64)


def close(got, expected, *, atol: float = 1e-6, rtol: float = 1e-6) -> bool:
    """``got`` and ``expected`` have the same shape and agree in float64 within the tolerances (NaN matches NaN)."""
    try:
        a, b = as_float64(got), as_float64(expected)
    except (TypeError, ValueError):
        return False
    return a.shape == b.shape and bool(np.allclose(a, b, atol=atol, rtol=rtol, equal_nan=True))


def int_list(values) -> list[int] | None:
    """``values`` (a list, tuple, array or 1-D tensor of whole numbers) as a list of Python ints; None if it is not one."""
    try:
        if torch.is_tensor(values):
            values = values.detach().cpu().tolist()
        items = list(values)
    except TypeError:
        return None
    out = []
    for item in items:
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, (numbers.Integral, torch.Tensor)):
            return None
        out.append(int(item))
    return out


# --- Display ---------------------------------------------------------------------------------------------


def show_markdown(text: str) -> None:
    """Render ``text`` as Markdown in the notebook (use it for prose built from measured numbers)."""
    from IPython.display import Markdown, display

    display(Markdown(text))


def _visible(piece: str) -> str:
    """One token's text, HTML-escaped, with newlines shown as a return arrow so that they stay visible."""
    return html.escape(piece).replace("\n", "\u21b5")


def token_html(pieces: list[str], css_class: str = "", colour: str | None = None, title: str | None = None) -> str:
    """Each text piece as one ``<span>`` (with a thin border, so that token boundaries show)."""
    style = "border:1px solid #999;border-radius:3px;padding:0 1px;margin:0 1px;"
    if colour:
        style += f"background:{colour};color:#000;"
    extra = f' title="{html.escape(title)}"' if title else ""
    return "".join(f'<span class="{css_class}" style="{style}"{extra}>{_visible(p)}</span>' for p in pieces)


# --- The step-through visualiser -----------------------------------------------------------------------


def _step_parts(result, index: int) -> dict:
    """Tokens of step ``index`` of a chain generation: before it, accepted, rejected, and the target's own."""
    start = sum(s.emitted for s in result.steps[:index])
    step = result.steps[index]
    emitted = result.tokens[start : start + step.emitted].tolist()
    nodes = sorted((n for n in result.nodes if n.step == step.step), key=lambda n: n.depth)
    kept = min(step.accepted, len(emitted))
    return {
        "step": step,
        "before": result.tokens[:start].tolist(),
        "accepted": nodes[:kept],
        "rejected": nodes[kept:],
        "own": emitted[kept:],
    }


def step_html(result, tokenizer, index: int, *, context_chars: int = 400) -> str:
    """One step of a chain speculative generation as HTML.

    Shows the text generated before the step (grey, its last ``context_chars`` characters), then the
    drafted tokens the target accepted (green), the drafted tokens it rejected (red, struck through: the
    first one failed the check, the ones after it were discarded with it), and the target's own token
    (blue). A table gives, for every drafted token, the draft's probability q(x) and the target's p(x).
    """
    if not 0 <= index < len(result.steps):
        raise ValueError(f"step {index} does not exist: this generation has steps 0 to {len(result.steps) - 1}.")
    parts = _step_parts(result, index)
    step = parts["step"]
    before = tokenizer.decode(parts["before"])
    if len(before) > context_chars:
        before = "\u2026" + before[-context_chars:]

    def pieces(tokens):
        return [tokenizer.decode([t]) for t in tokens]

    text = (
        f'<span class="specdec-context" style="color:#666">{_visible(before)}</span>'
        + token_html(pieces([n.token for n in parts["accepted"]]), "specdec-accepted", ACCEPTED_COLOUR, "accepted draft")
        + "".join(
            token_html(pieces([n.token]), "specdec-rejected", REJECTED_COLOUR, "rejected draft").replace(
                "style=\"", 'style="text-decoration:line-through;', 1)
            for n in parts["rejected"]
        )
        + token_html(pieces(parts["own"]), "specdec-target", TARGET_COLOUR, "the target's own token")
    )
    own = len(parts["own"])
    summary = (
        f"<b>Step {index + 1} of {len(result.steps)}</b>: the draft proposed {step.drafted} token"
        f"{'s' if step.drafted != 1 else ''}, the target accepted {step.accepted} and added {own} of its own "
        f"({step.emitted} new token{'s' if step.emitted != 1 else ''} for one target call)."
    )
    rows = "".join(
        f"<tr><td>{i + 1}</td><td>{token_html(pieces([n.token]))}</td><td>{n.q_prob:.2f}</td>"
        f"<td>{n.p_prob:.2f}</td><td>{'accepted' if n.accepted else 'rejected'}</td></tr>"
        for i, n in enumerate(parts["accepted"] + parts["rejected"])
    )
    table = (
        '<table class="specdec-step-table" style="margin-top:6px;font-size:90%;border-collapse:separate;'
        'border-spacing:12px 2px">'
        "<tr><th>#</th><th>drafted token</th><th>q(x), draft</th><th>p(x), target</th><th>verdict</th></tr>"
        f"{rows}</table>"
        if rows
        else ""
    )
    legend = (
        '<div style="margin-top:6px;font-size:85%">'
        + token_html(["accepted draft"], colour=ACCEPTED_COLOUR)
        + token_html(["rejected draft"], colour=REJECTED_COLOUR)
        + token_html(["target's own token"], colour=TARGET_COLOUR)
        + "</div>"
    )
    return (
        f'<div class="specdec-step" data-step="{index}">'
        f"<div>{summary}</div>"
        f'<div style="white-space:pre-wrap;font-family:monospace;line-height:1.8;margin-top:6px">{text}</div>'
        f"{table}{legend}</div>"
    )


def step_through(result, tokenizer, start: int = 0):
    """An ipywidgets control that steps through ``result`` (a chain speculative generation) one step at a time.

    "Previous step" / "Next step" buttons and a "Step" slider choose the step; the view below shows
    :func:`step_html` for it. Returns the widget box (the last expression of a cell displays it).
    """
    import ipywidgets as widgets

    n = len(result.steps)
    if n == 0:
        raise ValueError("this generation has no steps to show.")
    pages = [step_html(result, tokenizer, i) for i in range(n)]
    start = min(max(start, 0), n - 1)
    slider = widgets.IntSlider(value=start + 1, min=1, max=n, description="Step", continuous_update=True)
    previous = widgets.Button(description="Previous step", icon="arrow-left", tooltip="show the previous step")
    following = widgets.Button(description="Next step", icon="arrow-right", tooltip="show the next step")
    view = widgets.HTML(value=pages[start])
    slider.add_class("specdec-step-slider")
    previous.add_class("specdec-step-prev")
    following.add_class("specdec-step-next")
    view.add_class("specdec-step-view")

    def refresh(change=None):
        index = slider.value - 1
        view.value = pages[index]
        previous.disabled = index == 0
        following.disabled = index == n - 1

    def go(delta):
        slider.value = min(max(slider.value + delta, 1), n)

    slider.observe(refresh, names="value")
    previous.on_click(lambda _: go(-1))
    following.on_click(lambda _: go(+1))
    refresh()
    box = widgets.VBox([widgets.HBox([previous, slider, following]), view])
    box.add_class("specdec-step-through")
    return box


# --- Lessons 3 and 4 ---
# Helpers for solutions/03_*/ and solutions/04_*/ go below this line (append only).


@dataclasses.dataclass(frozen=True)
class ChiSquare:
    """The result of :func:`chi_square_test`: Pearson's statistic, its degrees of freedom, the p-value, the cells used."""

    statistic: float
    dof: int
    pvalue: float
    cells: int


def chi_square_test(samples, probs, *, min_expected: float = 5.0) -> ChiSquare:
    """Pearson's chi-square test of integer ``samples`` (token ids) against the distribution ``probs``.

    With ``N`` samples, cell ``k`` is expected to hold ``E_k = N probs[k]`` of them and holds ``O_k``; the
    statistic is ``sum_k (O_k - E_k)^2 / E_k``, which under the hypothesis "the samples come from ``probs``"
    follows a chi-square law with (cells - 1) degrees of freedom. The approximation needs a few expected
    samples per cell, so every outcome with ``E_k < min_expected`` is pooled into one extra cell. A sample
    that ``probs`` gives probability 0 makes the statistic infinite and the p-value 0.
    """
    from scipy import stats

    samples = np.asarray(samples, dtype=np.int64).ravel()
    probs = np.asarray(torch.as_tensor(probs, dtype=torch.float64).cpu(), dtype=np.float64).ravel()
    n = len(samples)
    if n == 0:
        raise ValueError("no samples to test.")
    if samples.min() < 0 or samples.max() >= len(probs):
        raise ValueError(f"samples must be token ids in 0 .. {len(probs) - 1}.")
    observed = np.bincount(samples, minlength=len(probs)).astype(np.float64)
    expected = n * probs / probs.sum()
    if np.any(observed[expected == 0] > 0):
        return ChiSquare(float("inf"), 0, 0.0, 0)
    big = expected >= min_expected
    obs, exp = list(observed[big]), list(expected[big])
    if expected[~big].sum() > 0:
        obs.append(observed[~big].sum())
        exp.append(expected[~big].sum())
    if len(obs) < 2:
        raise ValueError("fewer than two cells with enough expected samples: draw more samples.")
    obs, exp = np.array(obs), np.array(exp)
    result = stats.chisquare(obs, exp * obs.sum() / exp.sum())
    return ChiSquare(float(result.statistic), len(obs) - 1, float(result.pvalue), len(obs))


__all__ += ["ChiSquare", "chi_square_test"]


def format_pvalue(pvalue: float) -> str:
    """A p-value for prose and tables: two significant digits, or "< 1e-300" where it underflows to 0."""
    return "< 1e-300" if pvalue < 1e-300 else f"{pvalue:.2g}"


__all__ += ["format_pvalue"]


def random_parents(n: int, generator: torch.Generator) -> list[int]:
    """The parent indices of a random tree of ``n`` nodes: node ``i``'s parent is uniform over -1 (the root) .. i - 1."""
    return [int(torch.randint(-1, i, (), generator=generator)) if i > 0 else -1 for i in range(n)]


__all__ += ["random_parents"]


# --- Quizzes ---
# Answer checks for the quizzes (solutions/quiz_*/ and solutions/final_check/). A quiz answer is a plain value
# in an answer cell (``q3 = "b"``, ``q5 = 2.8``); the visible part of its test cell checks the format with
# these functions, the hidden part the value. Both accept a correct answer however it is written.



def _unanswered(name: str, example: str) -> NotImplementedError:
    return NotImplementedError(f"{name} has no answer yet: replace `raise NotImplementedError()` in its answer cell "
                               f"with your answer, e.g. `{name} = {example}`.")


def choice(answer, options: str, name: str) -> str:
    """The option letter ``answer`` names, normalised: ``" B "``, ``"b)"`` and ``"(b)"`` all give ``"b"``.

    ``options`` lists the valid letters (``"abcd"``). Raises ``NotImplementedError`` while ``answer`` is still
    ``None`` (the question is unanswered) and ``AssertionError`` with a message that says what to write
    when it is not one of the letters (a number, a list, an unknown letter).
    """
    letters = ", ".join(f'"{o}"' for o in options)
    if answer is None:
        raise _unanswered(name, f'"{options[0]}"')
    if not isinstance(answer, str):
        raise AssertionError(f"{name} should be one letter in quotes, one of {letters}; got {answer!r} "
                             f"(a {type(answer).__name__}).")
    letter = answer.strip().strip("().").strip().lower()
    if letter not in options or len(letter) != 1:
        raise AssertionError(f"{name} = {answer!r} is not one of the options: write one of {letters}.")
    return letter


def number(answer, name: str) -> float:
    """``answer`` as a float: a Python or NumPy number, or a one-element array or tensor.

    Raises ``NotImplementedError`` while ``answer`` is still ``None``, and ``AssertionError`` with a message
    that says what to write for anything else (a string such as ``"2.5"``, a list, ``True``, ``nan``).
    """
    if answer is None:
        raise _unanswered(name, "2.5")
    if hasattr(answer, "item") and (answer.numel() if hasattr(answer, "numel") else np.size(answer)) == 1:
        answer = answer.item()  # a NumPy scalar, or an array or tensor holding one number
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        hint = " (remove the quotes)" if isinstance(answer, str) else ""
        raise AssertionError(f"{name} should be a number, like 2.5{hint}; got {answer!r} (a {type(answer).__name__}).")
    value = float(answer)
    if not math.isfinite(value):
        raise AssertionError(f"{name} is {value}: a finite number is expected; check your computation.")
    return value


__all__ += ["choice", "number"]


# --- Lessons 7 and 8 ---
# Helpers for solutions/07_acceptance_dynamics/ and solutions/08_domain_effects/ (append only).


def simulated_study(rates: dict, *, prompts: int = 4, steps: int = 25, depth: int = 3, branching: int = 2,
                    short_steps: float = 0.1, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Node and step tables of a made-up greedy tree study whose acceptance per level is known in advance.

    ``rates[domain]`` is the probability that a level is accepted given that the path reached it: one number
    (the same rate at every depth) or one number per depth. Each of ``prompts`` prompts per domain runs
    ``steps`` steps; a step drafts the full ``branching``-ary tree of ``depth`` levels (a fraction
    ``short_steps`` of the steps drafts fewer levels, as real steps near the token limit do). Walking down from
    the root, each reached level is accepted with its rate, through one child (the draft's first choice three
    times in four); below a rejected node nothing is tested. A node's entropies (``q_entropy``, ``p_entropy``,
    nats, shared by siblings since they come from the parent's distribution, as in real records) are drawn
    from exponential laws with a lower mean where one of the siblings was accepted, so entropy and acceptance
    are negatively correlated. The columns are those of :func:`specdec_lite.study.run_study`'s tables, so
    every function of the study accepts them; probabilities and tokens are random filler.
    """
    from .prompts import DOMAINS
    from .tree import static_tree

    unknown = sorted(set(rates) - set(DOMAINS))
    if unknown or not rates:
        raise ValueError(f"rates needs one entry per domain, with domains from {list(DOMAINS)}; got {sorted(rates)}.")
    if depth < 1 or branching < 1 or prompts < 1 or steps < 1:
        raise ValueError("depth, branching, prompts and steps must all be at least 1.")
    per_depth = {}
    for domain, rate in rates.items():
        values = [float(rate)] * depth if np.ndim(rate) == 0 else [float(r) for r in rate]
        if len(values) != depth or not all(0.0 <= r <= 1.0 for r in values):
            raise ValueError(f"rates[{domain!r}] must be one probability or {depth} probabilities (one per depth) "
                             f"in [0, 1]; got {rate!r}.")
        per_depth[domain] = values
    rng = np.random.default_rng(seed)
    trees = {}
    for d in range(1, depth + 1):
        tree = static_tree(d, branching)
        parents = tree.parents.tolist()
        ranks = [sum(parents[j] == parents[k] for j in range(k)) for k in range(len(parents))]
        trees[d] = (parents, tree.depths.tolist(), ranks)
    node_rows, step_rows = [], []
    for domain in [d for d in DOMAINS if d in per_depth]:
        for i in range(prompts):
            prompt_id, cache = f"{domain}-{i + 1:03d}", 100
            for step in range(steps):
                drafted = depth if rng.random() >= short_steps else int(rng.integers(1, depth + 1))
                parents, node_depth, rank = trees[drafted]
                accepted, node = [False] * len(parents), -1
                for level in range(1, drafted + 1):
                    if rng.random() >= per_depth[domain][level - 1]:
                        break
                    children = [k for k, p in enumerate(parents) if p == node]
                    node = children[0] if rng.random() < 0.75 else children[int(rng.integers(len(children)))]
                    accepted[node] = True
                kept = sum(accepted)
                scale = {p: 0.6 if any(accepted[k] for k, q in enumerate(parents) if q == p) else 1.4
                         for p in set(parents)}
                q_entropy = {p: rng.exponential(scale[p]) for p in scale}
                p_entropy = {p: rng.exponential(scale[p]) for p in scale}
                for k, p in enumerate(parents):
                    node_rows.append({
                        "prompt_id": prompt_id, "domain": domain, "step": step, "node": k, "depth": node_depth[k],
                        "token": int(rng.integers(1000)), "q_prob": float(rng.random()), "q_entropy": q_entropy[p],
                        "p_prob": float(rng.random()), "p_entropy": p_entropy[p], "accepted": accepted[k],
                        "parent": p, "rank": rank[k], "on_path": accepted[k], "tested": p < 0 or accepted[p],
                    })
                cache += kept + 1
                step_rows.append({"prompt_id": prompt_id, "domain": domain, "step": step, "drafted": len(parents),
                                  "accepted": kept, "emitted": kept + 1, "seconds": 0.0, "target_cache": cache,
                                  "draft_cache": cache})
    return pd.DataFrame(node_rows), pd.DataFrame(step_rows)


def ranked(values, digits: int = 3) -> str:
    """``{"code": 0.7, "chat": 0.6}`` (or a Series) as ``"code 0.700 > chat 0.600"``, highest first; ``=`` for ties."""
    items = sorted(dict(values).items(), key=lambda item: -item[1])
    text = [f"{items[0][0]} {items[0][1]:.{digits}f}"] if items else []
    for (_, before), (name, value) in zip(items, items[1:]):
        text.append(f"{'=' if f'{value:.{digits}f}' == f'{before:.{digits}f}' else '>'} {name} {value:.{digits}f}")
    return " ".join(text)


__all__ += ["simulated_study", "ranked"]


def load_study(folder) -> tuple:
    """A study saved by ``specdec-lite study --out FOLDER``, read back as ``(result, report)``.

    ``result`` is the :class:`~specdec_lite.study.StudyResult` rebuilt by :func:`specdec_lite.study.load_study`
    from the folder's node and step tables and configuration; ``report`` is its ``study.json`` as a dict.
    Pass the folder of a committed study, e.g. ``results_path("study", "smol")``.
    """
    from .study import load_study as read_study

    result = read_study(folder)
    return result, json.loads((Path(folder) / "study.json").read_text())


def study_command(report: dict, out: str) -> list[str]:
    """The ``specdec-lite study`` command line that reruns the study of ``report`` into the folder ``out``.

    Built from the report's ``pair`` and ``config`` (every setting the command line takes), with
    ``--format csv.gz --plots --json``; redirect its standard output into ``out/study.json``.
    """
    config = report["config"]
    if not report.get("pair"):
        raise ValueError("this report names no pair (only `specdec-lite study` adds one): rerun it by hand.")
    command = ["specdec-lite", "study", "--pair", report["pair"], "--mode", config["mode"]]
    if config["mode"] == "tree":
        command += ["--depth", str(config["depth"]), "--branching", str(config["branching"])]
        command += ["--budget", str(config["budget"])] if config.get("budget") else []
    else:
        command += ["--gamma", str(config["gamma"])]
    command += ["--temperature", str(config["temperature"]), "--max-new-tokens", str(config["max_new_tokens"]),
                "--seed", str(config["seed"]), "--entropy", config["entropy"]]
    if config.get("prompts_per_domain"):
        command += ["--prompts", str(config["prompts_per_domain"])]
    from .prompts import DOMAINS

    if tuple(config["domains"]) != DOMAINS:
        command += [arg for domain in config["domains"] for arg in ("--domain", domain)]
    return command + ["--out", str(out), "--format", "csv.gz", "--plots", "--json"]


__all__ += ["load_study", "study_command"]


# --- Lessons 5 and 6 ---
# Helpers for solutions/05_measuring_speedup/ and solutions/06_memory_cost/ (append only).


GPU_RUNS = RESULTS.parent / "docs" / "gpu_runs"
SPEEDUP_COLUMNS = ("temperature", "gamma", "alpha", "c", "measured_speedup", "measured_speedup_iqr",
                   "predicted_speedup", "predicted_speedup_verify", "verify_ratio", "measured_tokens_per_call",
                   "predicted_tokens_per_call")


def gpu_run(name: str) -> dict:
    """The JSON of a committed GPU measurement, ``docs/gpu_runs/<name>`` (``docs/gpu.md`` describes each one)."""
    return json.loads(_committed(GPU_RUNS / name, "the GPU measurements", "docs/gpu_runs/").read_text())


def format_bytes(n: float) -> str:
    """A byte count in binary units with three significant digits: ``"512 B"``, ``"5.34 MiB"``, ``"12.6 GiB"``."""
    value, unit = float(n), "B"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.0f} {unit}" if unit == "B" else f"{value:.3g} {unit}"


def _speedup_cell(grid, gamma: int, temperature: float):
    """The grid's row at (``gamma``, ``temperature``), or None when that pair was not measured."""
    rows = grid[(grid["gamma"] == gamma) & np.isclose(grid["temperature"], temperature)]
    return None if rows.empty else rows.iloc[0]


def _speedup_figure_png(grid, gamma: int, temperature: float, title: str) -> str:
    """Speed-up and tokens per target call against gamma at ``temperature``, as base64 PNG (no pyplot state)."""
    from matplotlib.figure import Figure

    rows = grid[np.isclose(grid["temperature"], temperature)].sort_values("gamma")
    fig = Figure(figsize=(9.5, 4.4), dpi=80)
    speed, tokens = fig.subplots(1, 2)
    speed.errorbar(rows["gamma"], rows["measured_speedup"], yerr=rows["measured_speedup_iqr"] / 2, marker="o",
                   capsize=3, color="tab:blue", label="measured (median, IQR)")
    speed.plot(rows["gamma"], rows["predicted_speedup"], "s--", color="tab:orange",
               label="predicted, Leviathan et al.")
    speed.plot(rows["gamma"], rows["predicted_speedup_verify"], "^:", color="tab:green",
               label="predicted, verification at its measured cost")
    speed.axhline(1.0, color="grey", linewidth=0.8)
    speed.set(title="Speed-up over the target alone", xlabel="gamma (tokens drafted per step)",
              ylabel="speed-up (x, wall time)")
    tokens.plot(rows["gamma"], rows["measured_tokens_per_call"], "o-", color="tab:blue", label="measured")
    tokens.plot(rows["gamma"], rows["predicted_tokens_per_call"], "s--", color="tab:orange",
                label="(1 - alpha^(gamma+1)) / (1 - alpha)")
    tokens.plot(rows["gamma"], rows["gamma"] + 1, ":", color="grey", label="gamma + 1 (every draft accepted)")
    tokens.set(title="Tokens per target call", xlabel="gamma (tokens drafted per step)",
               ylabel="tokens emitted per target call")
    for ax in (speed, tokens):
        ax.axvline(gamma, color="black", linewidth=1, alpha=0.4)
        ax.set_xticks(rows["gamma"].tolist())
    # below the axes: inside, the speed-up legend sat on the measured points
    speed.legend(frameon=False, fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.2))
    tokens.legend(frameon=False, fontsize="small")
    fig.suptitle(f"{title}temperature {temperature:g}, gamma {gamma} marked", fontsize="medium")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def check_speedup_grid(grid) -> None:
    """Raise ``ValueError`` naming what is missing unless ``grid`` has every column :func:`speedup_page` reads."""
    missing = [c for c in SPEEDUP_COLUMNS if c not in getattr(grid, "columns", ())]
    if missing or len(grid) == 0:
        raise ValueError(f"the speed-up grid needs one row per (temperature, gamma) with the columns "
                         f"{list(SPEEDUP_COLUMNS)}; missing: {missing or 'every row'}. Load it from "
                         "results/speedup/ or regenerate it with tools/make_speedup_grid.py.")


def speedup_page(grid, gamma: int, temperature: float, *, title: str = "") -> str:
    """HTML for one (``gamma``, ``temperature``) of a measured speed-up grid: a sentence, a plot and a table.

    ``grid`` has one row per (temperature, gamma), with the columns of
    :func:`specdec_lite.bench.gamma_sweep` plus ``temperature`` and ``c`` (``SPEEDUP_COLUMNS``). The plot
    shows every measured gamma at ``temperature`` with ``gamma`` marked; the sentence and the table give
    that cell's figures. The page is a ``div`` with the class ``specdec-speedup-page`` and the attributes
    ``data-gamma`` and ``data-temperature``.
    """
    check_speedup_grid(grid)
    row = _speedup_cell(grid, gamma, temperature)
    if row is None:
        text = (f"<b>gamma = {gamma}, temperature {temperature:g}</b>: not measured. The grid holds gamma "
                f"{', '.join(str(g) for g in sorted(grid['gamma'].unique()))} at temperatures "
                f"{', '.join(f'{t:g}' for t in sorted(grid['temperature'].unique()))}.")
        table = ""
    else:
        text = (
            f"<b>gamma = {gamma}, temperature {temperature:g}</b>: the target accepted a drafted token with "
            f"probability alpha = {row['alpha']:.2f}, and one target call emitted {row['measured_tokens_per_call']:.2f} "
            f"tokens on average ({row['predicted_tokens_per_call']:.2f} predicted). Measured speed-up "
            f"<b>{row['measured_speedup']:.2f}x</b> (IQR {row['measured_speedup_iqr']:.2f}); Leviathan et al. predict "
            f"{row['predicted_speedup']:.2f}x with c = {row['c']:.3f}, and {row['predicted_speedup_verify']:.2f}x "
            f"once the verification pass is priced at its measured cost ({row['verify_ratio']:.2f} target steps for "
            f"{gamma + 1} tokens)."
        )
        cells = [("alpha", f"{row['alpha']:.3f}"), ("c", f"{row['c']:.3f}"),
                 ("verification pass, target steps", f"{row['verify_ratio']:.2f}"),
                 ("tokens per target call, measured", f"{row['measured_tokens_per_call']:.2f}"),
                 ("tokens per target call, predicted", f"{row['predicted_tokens_per_call']:.2f}"),
                 ("speed-up, measured", f"{row['measured_speedup']:.2f}x"),
                 ("speed-up, predicted (Leviathan et al.)", f"{row['predicted_speedup']:.2f}x"),
                 ("speed-up, predicted (verification priced)", f"{row['predicted_speedup_verify']:.2f}x")]
        table = ('<table class="specdec-speedup-table" style="font-size:90%">'
                 + "".join(f"<tr><td>{name}</td><td>{value}</td></tr>" for name, value in cells) + "</table>")
    image = _speedup_figure_png(grid, gamma, temperature, f"{title}, " if title else "")
    return (
        f'<div class="specdec-speedup-page" data-gamma="{gamma}" data-temperature="{temperature:g}">'
        f"<div>{text}</div>"
        f'<img src="data:image/png;base64,{image}" alt="speed-up against gamma at temperature {temperature:g}" '
        'style="max-width:100%"/>'
        f"{table}</div>"
    )


def speedup_explorer(grid, gamma: int = 4, temperature: float | None = None, *, title: str = ""):
    """An ipywidgets control over a measured speed-up grid: a "gamma" and a "temperature" slider and the view.

    The view shows :func:`speedup_page` for the sliders' values (pages are rendered when first shown,
    then kept). Returns the widget box (the last expression of a cell displays it).
    """
    import ipywidgets as widgets

    check_speedup_grid(grid)
    gammas = sorted(int(g) for g in grid["gamma"].unique())
    temperatures = sorted(float(t) for t in grid["temperature"].unique())
    steps = np.diff(temperatures)
    if len(steps) and not np.allclose(steps, steps[0]):
        raise ValueError(f"the grid's temperatures {temperatures} must be evenly spaced for a slider.")
    step = float(steps[0]) if len(steps) else 0.1
    label = {"description_width": "initial"}  # the whole word "temperature", not cut to fit a fixed width
    start_t = temperatures[0] if temperature is None else min(temperatures, key=lambda t: abs(t - temperature))
    gamma_slider = widgets.IntSlider(value=min(max(gamma, gammas[0]), gammas[-1]), min=gammas[0], max=gammas[-1],
                                     step=1, description="gamma", continuous_update=False, style=label)
    temperature_slider = widgets.FloatSlider(value=start_t, min=temperatures[0], max=temperatures[-1], step=step,
                                             description="temperature", readout_format=".2f",
                                             continuous_update=False, style=label)
    view = widgets.HTML()
    gamma_slider.add_class("specdec-speedup-gamma")
    temperature_slider.add_class("specdec-speedup-temperature")
    view.add_class("specdec-speedup-view")
    pages: dict[tuple[int, float], str] = {}

    def refresh(change=None):
        nearest = min(temperatures, key=lambda t: abs(t - temperature_slider.value))
        key = (gamma_slider.value, nearest)
        if key not in pages:
            pages[key] = speedup_page(grid, *key, title=title)
        view.value = pages[key]

    gamma_slider.observe(refresh, names="value")
    temperature_slider.observe(refresh, names="value")
    refresh()
    box = widgets.VBox([widgets.HBox([gamma_slider, temperature_slider]), view])
    box.add_class("specdec-speedup")
    return box


__all__ += ["gpu_run", "format_bytes", "check_speedup_grid", "speedup_page", "speedup_explorer"]
