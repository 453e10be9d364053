"""The class report: one self-contained HTML page from the gradebook, ``autograded/`` and the grading state.

``python tools/grading.py report`` (``make report``) writes ``report.html`` after grading:

- the score distribution per assignment (every submission a dot, its score as a percentage of the assignment's);
- per question (nbgrader's grade cell) the mean score and the fraction of submissions that earned all its points;
- the hidden tests that fail most, each failure message with how many submissions it stopped and whose;
- the late submissions, with nbgrader's late penalty;
- the submissions that need attention: what the last grading of each said (``tools/grading.py``'s state).

Everything shown is computed by :func:`class_data` from the gradebook nbgrader wrote; the plots
(:func:`figures`, seaborn) are drawn from the same tables, so the page and the gradebook cannot disagree.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import release  # noqa: E402  (the course's folders and nbgrader configuration)

ROOT = release.ROOT
ANSI = re.compile(r"\x1b\[[0-9;]*m")

__all__ = ["ClassData", "class_data", "figures", "write"]


@dataclass
class ClassData:
    submissions: pd.DataFrame  # student, assignment, score, max_score, percent, timestamp, seconds_late, late_penalty
    questions: pd.DataFrame  # assignment, question, points, mean_score, mean_percent, passing_percent, graded
    failures: pd.DataFrame  # assignment, question, message, count, students
    attention: pd.DataFrame  # submission, message


def _failure(cell) -> str:
    """What a graded cell that lost points printed as its error: the exception's name and first line."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            value = ANSI.sub("", str(output.get("evalue", ""))).strip().splitlines()
            return f"{output.get('ename', 'Error')}: {value[0] if value else ''}".strip().rstrip(":")
    return "no error printed (the cell did not run to the test, or scored partial points)"


def _autograded_cells(student: str, assignment: str, notebook: str) -> dict:
    path = ROOT / "autograded" / student / assignment / f"{notebook}.ipynb"
    if not path.exists():
        return {}
    nb = nbformat.read(path, as_version=4)
    return {cell.metadata.get("nbgrader", {}).get("grade_id"): cell for cell in nb.cells
            if cell.metadata.get("nbgrader", {}).get("grade")}


def class_data() -> ClassData:
    """The report's tables, from the gradebook (scores, lateness), autograded/ (failure messages) and the grading
    state (what needs attention)."""
    from nbgrader.api import Gradebook

    config = release.course_config()
    rows, grades, failed = [], [], []
    with Gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) as gb:
        for assignment in sorted(gb.assignments, key=lambda a: a.name):
            for submission in sorted(assignment.submissions, key=lambda s: s.student.id):
                student = submission.student.id
                penalty = sum(nb.late_submission_penalty or 0 for nb in submission.notebooks)
                rows.append({"student": student, "assignment": assignment.name, "score": submission.score,
                             "max_score": submission.max_score,
                             "percent": 100 * submission.score / submission.max_score if submission.max_score else 0.0,
                             "timestamp": submission.timestamp, "seconds_late": submission.total_seconds_late,
                             "late_penalty": penalty})
                for notebook in submission.notebooks:
                    cells = _autograded_cells(student, assignment.name, notebook.name)
                    for grade in notebook.grades:
                        if not grade.max_score:
                            continue
                        grades.append({"assignment": assignment.name, "question": grade.name, "points": grade.max_score,
                                       "score": grade.score, "full": grade.score >= grade.max_score})
                        if grade.score < grade.max_score:
                            message = _failure(cells[grade.name]) if grade.name in cells else "not in autograded/"
                            failed.append({"assignment": assignment.name, "question": grade.name,
                                           "message": message, "student": student})
    submissions = pd.DataFrame(rows, columns=["student", "assignment", "score", "max_score", "percent", "timestamp",
                                              "seconds_late", "late_penalty"])
    per_grade = pd.DataFrame(grades, columns=["assignment", "question", "points", "score", "full"])
    questions = (per_grade.groupby(["assignment", "question"], sort=False)
                 .agg(points=("points", "first"), mean_score=("score", "mean"), passing=("full", "mean"),
                      graded=("score", "size")).reset_index())
    questions["mean_percent"] = 100 * questions["mean_score"] / questions["points"]
    questions["passing_percent"] = 100 * questions["passing"]
    questions = questions.drop(columns="passing")
    failures = pd.DataFrame(failed, columns=["assignment", "question", "message", "student"])
    failures = (failures.groupby(["assignment", "question", "message"])
                .agg(count=("student", "size"), students=("student", lambda s: ", ".join(sorted(s)))).reset_index()
                .sort_values(["count", "assignment", "question"], ascending=[False, True, True], ignore_index=True))
    state_path = ROOT / ".nbgrader" / "grading_state.json"
    state = json.loads(state_path.read_text()).get("submissions", {}) if state_path.exists() else {}
    attention = pd.DataFrame([{"submission": name, "message": entry["message"]} for name, entry in sorted(state.items())
                              if not entry.get("ok")], columns=["submission", "message"])
    return ClassData(submissions, questions, failures, attention)


def figures(data: ClassData) -> dict:
    """The report's plots (matplotlib figures drawn with seaborn): ``scores`` (one dot per submission, per
    assignment) and ``questions`` (mean score and fraction passing per question, in percent)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    out = {}
    order = sorted(data.submissions["assignment"].unique())
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(order) + 2), 4))
    sns.boxplot(data=data.submissions, x="assignment", y="percent", order=order, color="0.9", showfliers=False, ax=ax)
    np.random.seed(0)  # seaborn jitters the dots sideways with NumPy's global generator: the same page every time
    sns.stripplot(data=data.submissions, x="assignment", y="percent", order=order, color="tab:blue", size=6,
                  jitter=0.15, ax=ax)
    ax.set(title="Scores per assignment (one dot per submission)", xlabel="assignment", ylabel="score (% of the points)",
           ylim=(-5, 105))
    fig.tight_layout()
    out["scores"] = fig

    labels = data.questions["assignment"] + " / " + data.questions["question"]
    table = data.questions.assign(label=labels)
    fig, axes = plt.subplots(1, 2, sharey=True, figsize=(10, max(3, 0.3 * len(table) + 1.5)))
    sns.barplot(data=table, y="label", x="mean_percent", color="tab:blue", errorbar=None, ax=axes[0])
    axes[0].set(title="Mean score per question", xlabel="mean score (% of its points)", ylabel="question", xlim=(0, 100))
    sns.barplot(data=table, y="label", x="passing_percent", color="tab:green", errorbar=None, ax=axes[1])
    axes[1].set(title="Submissions with full points", xlabel="passing (% of submissions)", ylabel="", xlim=(0, 100))
    fig.tight_layout()
    out["questions"] = fig
    return out


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return base64.b64encode(buffer.getvalue()).decode()


def _table(frame: pd.DataFrame, empty: str) -> str:
    if frame.empty:
        return f"<p><em>{html.escape(empty)}</em></p>"
    return frame.to_html(index=False, float_format=lambda x: f"{x:.1f}", border=0, classes="table")


def write(out: Path | None = None) -> Path:
    """Write the report to ``out`` (default ``report.html`` in the course folder) and return its path."""
    import matplotlib.pyplot as plt

    out = Path(out) if out else ROOT / "report.html"
    data = class_data()
    if data.submissions.empty:
        raise SystemExit("the gradebook holds no graded submission: run `make autograde` first")
    plots = figures(data)
    images = {name: _png(fig) for name, fig in plots.items()}
    for fig in plots.values():
        plt.close(fig)
    late = data.submissions[data.submissions["seconds_late"] > 0][["student", "assignment", "timestamp", "seconds_late",
                                                                   "late_penalty"]]
    per_assignment = (data.submissions.groupby("assignment")
                      .agg(submissions=("student", "size"), mean_percent=("percent", "mean"),
                           median_percent=("percent", "median"), lowest=("percent", "min"), highest=("percent", "max"))
                      .reset_index())
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Class report: {html.escape(release.course_config().CourseDirectory.course_id)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}}
img{{max-width:100%}}</style></head><body>
<h1>Class report</h1>
<p>{len(data.submissions)} graded submissions of {data.submissions['student'].nunique()} students,
{data.submissions['assignment'].nunique()} assignments; written {time.strftime('%Y-%m-%d %H:%M %Z')} from the gradebook.</p>
<h2>Scores per assignment</h2>
<img alt="scores per assignment" src="data:image/png;base64,{images['scores']}">
{_table(per_assignment, "")}
<h2>Questions</h2>
<img alt="mean score and passing per question" src="data:image/png;base64,{images['questions']}">
{_table(data.questions[['assignment', 'question', 'points', 'mean_score', 'mean_percent', 'passing_percent', 'graded']], "")}
<h2>Hidden tests that fail most</h2>
{_table(data.failures, "No graded cell lost points.")}
<h2>Late submissions</h2>
{_table(late, "No submission was late.")}
<h2>Submissions that need attention</h2>
{_table(data.attention, "None: every submission was graded without a problem.")}
</body></html>
"""
    out.write_text(page)
    return out
