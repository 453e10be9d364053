"""Self-checks and hidden tests: the learner's own code, checked fairly.

A self-check (:func:`check`) raises an ``AssertionError`` whose message teaches: what went wrong, in words,
never the expected value. A hidden test compares what the exercise's contract allows (any float dtype,
lists or tuples) in float64 (:func:`close`, :func:`as_float64`, :func:`int_list`), and runs the learner's
function with the library's reference made to raise (:func:`own`, :func:`forbidden`), so an answer that
delegates to the library fails. Quiz answers are read by :func:`choice` and :func:`number`, which accept a
correct answer however it is written.
"""

from __future__ import annotations

import contextlib
import functools
import math
import numbers

import numpy as np
import torch

__all__ = ["check", "record_calls", "forbidden", "own", "as_float64", "close", "int_list", "choice", "number"]


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
    lines = [f"__import__('specdec_lite.course.checks', fromlist=['_'])._FORBIDDEN_CALLS.append({name!r})",
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
