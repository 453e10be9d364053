"""Fixture students: answers to every exercise of the lessons, graded through nbgrader by test_fixture_students.py.

One module per assignment (``a00_setup.py`` for ``00_setup``, ...), each with ``ANSWERS``: for every answer
cell's grade_id a dict of complete answer-cell sources,

* ``"alternative"``: a correct answer written another way than the solution (loops instead of vectorised
  code, NumPy, another formula, a tuple where a list is allowed): it must get full marks;
* ``"hardcoded"``: an answer that returns what the visible self-check expects for its own inputs and
  nothing sensible otherwise: it must lose that exercise's points;
* ``"delegating"``: an answer that calls the library's own version of the function: it must lose them too.
  Where the course's library has no function that is the answer (lesson 0, ``generation_time``,
  ``accept_greedy``), ``"slip"`` takes its place: a plausible mistake that must also lose them. Every one of
  them is graded: a lesson gets as many wrong submissions as its exercise with the most wrong kinds (two).

A module may also hold ``BROKEN``: for an answer cell's grade_id, more broken variants (by name) that its test
cell must fail; they are run on the test cell directly, without nbgrader, since one autograde each would be slow.
Where an exercise has a slip besides its delegating answer (lesson 3's sampled loop, lesson 4's stochastic
verification that never moves to the residual, and its tree walk), the slip is one of them.

Nothing here is copied into a release: it lives under tests/, not beside a source notebook.
"""

from __future__ import annotations

import importlib
import textwrap

WRONG_KINDS = ("hardcoded", "delegating", "slip")


def module_name(assignment: str) -> str:
    return "a" + assignment


def answers(assignment: str) -> dict[str, dict[str, str]]:
    """grade_id -> {kind: source} for ``assignment``; an empty dict when it has no fixture module."""
    try:
        module = importlib.import_module(f"{__name__}.{module_name(assignment)}")
    except ModuleNotFoundError:
        return {}
    return {grade_id: {kind: textwrap.dedent(source).strip("\n") + "\n" for kind, source in kinds.items()}
            for grade_id, kinds in module.ANSWERS.items()}
