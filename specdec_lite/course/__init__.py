"""The course's helpers: what the lesson and quiz notebooks need around the library, never copied between them.

The library proper (decoders, measurements, statistics, plots) lives in the rest of ``specdec_lite``; this
subpackage holds what only the notebooks use, one module per kind of helper. Every lesson imports it as
``from specdec_lite import course as nb``; the names below are the ones the notebooks use.

* :mod:`~specdec_lite.course.environment` - :func:`setup` (seeds, quiet warnings, the device), :func:`versions`.
* :mod:`~specdec_lite.course.checks` - self-checks and hidden tests. :func:`check` raises an
  ``AssertionError`` whose message teaches (what went wrong in words, never the expected value);
  :func:`record_calls` lists what a model was fed; :func:`forbidden` / :func:`own` make the library's
  reference raise while the learner's function runs (an answer must be the learner's own code);
  :func:`close`, :func:`as_float64` and :func:`int_list` compare what an exercise's contract allows (any
  float dtype, lists or tuples) in float64; :func:`choice` and :func:`number` read quiz answers.
* :mod:`~specdec_lite.course.committed` - the course's committed measurements, too slow for a lesson's
  3 minutes: :func:`course_dir` finds the course's folder, :func:`results_path` a file under its
  ``results/``, :func:`committed_study` reads back a study saved by ``specdec-lite study --out``,
  :func:`recorded_runs` the library's decoding runs that a lesson shows before the learner writes the loop,
  :func:`study_command` gives the command line that reruns it, :func:`gpu_run` a GPU measurement from
  ``docs/gpu_runs/``.
* :mod:`~specdec_lite.course.exercises` - made-up inputs with known answers, for demonstrations and
  hidden tests: :func:`random_parents` (a random tree), :func:`simulated_study` (a study with known rates).
* :mod:`~specdec_lite.course.drafting` - :func:`lookup_drafter` (a learner's prompt-lookup proposal as a drafter
  the library's decoders can run), :func:`stop_rule_drafter` (a learner's stop rule as a draft model's drafting
  loop) and :func:`proposal` (what any drafter proposes after a sequence).
* :mod:`~specdec_lite.course.displays` - pure functions that build what a cell shows: :func:`show_markdown`
  (prose built from measured numbers), :func:`token_html`, :func:`step_html`, :func:`speedup_page`,
  :func:`ranked`, :func:`format_bytes`, :func:`format_pvalue`.
* :mod:`~specdec_lite.course.widgets` - the interactive views built on those: :func:`step_through` and
  :func:`speedup_explorer` (their controls' names and CSS classes, for the browser tests, are in their
  docstrings).

The chi-square test the lessons use is the library's own, :func:`specdec_lite.statistics.chi_square_test`,
re-exported here. Graded test cells must stay silent on stderr: nothing here writes there or shows progress
bars.
"""

from ..statistics import ChiSquare, chi_square_test
from .checks import as_float64, check, choice, close, forbidden, int_list, number, own, record_calls
from .committed import committed_study, course_dir, gpu_run, recorded_runs, results_path, study_command
from .displays import format_bytes, format_pvalue, ranked, show_markdown, speedup_page, step_html, token_html
from .drafting import lookup_drafter, proposal, stop_rule_drafter
from .environment import setup, versions
from .exercises import random_parents, simulated_study
from .widgets import speedup_explorer, step_through

__all__ = [
    "setup", "versions",
    "check", "record_calls", "forbidden", "own", "close", "as_float64", "int_list", "choice", "number",
    "course_dir", "results_path", "committed_study", "recorded_runs", "study_command", "gpu_run",
    "random_parents", "simulated_study", "lookup_drafter", "stop_rule_drafter", "proposal",
    "show_markdown", "token_html", "step_html", "speedup_page", "ranked", "format_bytes", "format_pvalue",
    "step_through", "speedup_explorer",
    "ChiSquare", "chi_square_test",
]
