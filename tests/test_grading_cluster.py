"""Grading a class on Dask (``tools/grading.py autograde --workers N | --scheduler``) and the class report.

Slow checks, each on its own scratch copy of one small class (three students, quiz_1 and quiz_2: the right
answers, the blank release, and a submission with one wrong letter and one wrong number):

- one worker, two workers and a real Dask cluster (a ``dask scheduler`` and two ``dask worker`` processes on
  127.0.0.1, started by the test from a checkout that holds no solutions and no submissions) give identical
  gradebooks;
- a worker killed mid-grading: every submission ends graded exactly once, and the run says what happened;
- Ctrl+C (SIGINT to the run's process group) mid-run, then a rerun: the same gradebook as an uninterrupted run,
  no process of the stopped run left, and the rerun grades only what the first did not record;
- the class report's figures show what the gradebook holds.

Fast checks: the progress line, the default number of workers, the task's file packing, the resume fingerprint.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tools"))
import grading  # noqa: E402  (tools/grading.py)
import grading_bench  # noqa: E402
import grading_task  # noqa: E402
import test_grading as tg  # noqa: E402  (the scratch course and submission helpers)
from lab_server import log_tail  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:User-placed attribute:DeprecationWarning")
CLASS = ("quiz_1", "quiz_2")
SUBMISSIONS = {f"{student}/{quiz}" for student in ("alice", "bob", "carol") for quiz in CLASS}


# --- Fast checks ------------------------------------------------------------------------------------------


def test_progress_gives_count_rate_and_eta_on_plain_lines(capsys):
    progress = grading.Progress(4)
    assert not progress.tty  # pytest's captured stdout is not a terminal
    assert progress.figures() == "0/4 graded, - submissions/min, ETA after the first submission"
    progress.start -= 60  # a minute ago
    progress.add(grading.Outcome("alice", "quiz_1", True, "10 / 10", 5.0))
    progress.add(grading.Outcome("bob", "quiz_1", True, "0 / 10", 5.0))
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("  ok      alice/quiz_1: 10 / 10") and out[2].startswith("  ok      bob/quiz_1")
    assert out[3].startswith("  progress: 2/4 graded, 2.0 submissions/min, ETA 1.0 min"), out


def test_default_workers_follow_cores_and_free_memory(monkeypatch):
    import psutil as ps

    state = grading.State(peak_mib={"quiz_1": 500})
    monkeypatch.setattr(grading, "cores", lambda: 16)
    monkeypatch.setattr(ps, "virtual_memory", lambda: type("Memory", (), {"available": 8 * 2**30})())
    workers, why = grading.default_workers(["quiz_1"], state)
    assert workers == int(0.8 * 8192 // (500 + grading.WORKER_MIB)) == 8 and "measured here" in why
    workers, why = grading.default_workers(["02_draft_and_verify"], grading.State())
    assert workers == int(0.8 * 8192 // (grading.ASSUMED_PEAK_MIB["lessons"] + grading.WORKER_MIB))
    monkeypatch.setattr(grading, "cores", lambda: 2)
    assert grading.default_workers(["quiz_1"], state)[0] == 2


def test_pack_and_unpack_keep_files_and_refuse_paths_that_leave_the_folder(tmp_path):
    (tmp_path / "a" / "sub").mkdir(parents=True)
    (tmp_path / "a" / "x.ipynb").write_bytes(b"{}")
    (tmp_path / "a" / "sub" / "data.csv").write_bytes(b"1,2")
    (tmp_path / "a" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "a" / ".ipynb_checkpoints" / "x.ipynb").write_bytes(b"old")
    files = grading_task.pack(tmp_path / "a")
    assert files == {"x.ipynb": b"{}", "sub/data.csv": b"1,2"}
    grading_task.unpack(files, tmp_path / "b")
    assert grading_task.pack(tmp_path / "b") == files
    with pytest.raises(ValueError, match="outside"):
        grading_task.unpack({"../escaped.txt": b"no"}, tmp_path / "c")
    assert not (tmp_path / "escaped.txt").exists()
    assert grading_task.digest(files) != grading_task.digest({**files, "x.ipynb": b"{ }"})


# --- A small class, graded four ways ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def class_course(tmp_path_factory) -> Path:
    tg._need_sandbox()
    course = tg._scratch_course(tmp_path_factory.mktemp("class") / "course", list(CLASS))
    assert tg._run(course, "tools/release.py", "--quiet").returncode == 0
    for quiz in CLASS:
        solution = tg._solution(course, quiz)
        key = tg.answer_key(solution)
        tg._submit(course, "alice", quiz, solution)
        tg._submit(course, "bob", quiz, tg._released(course, quiz))
        carol = tg._solution(course, quiz)
        letter = next(name for name, value in key.items() if isinstance(value, str))
        number = next(name for name, value in key.items() if not isinstance(value, str))
        tg._cell(carol, letter).source = f'{letter} = "{tg._other_letter(key[letter])}"'
        tg._cell(carol, number).source = f"{number} = {key[number] * 1.5 + 1!r}"
        tg._submit(course, "carol", quiz, carol)
    return course


def _copy(course: Path, where: Path) -> Path:
    shutil.copytree(course, where, symlinks=True)
    return where


def _snapshot(course: Path) -> dict:
    return grading.snapshot(course / ".nbgrader" / "gradebook.db")


def _ok_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("  ok ")]


@pytest.fixture(scope="module")
def one_worker(class_course, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    course = _copy(class_course, tmp_path_factory.mktemp("one") / "course")
    run = tg._run(course, "tools/grading.py", "autograde", "--workers", "1")
    print(run.stdout, run.stderr)
    assert run.returncode == 0, run.stdout + run.stderr
    return course, run


@pytest.mark.slow
def test_one_worker_grades_the_class_as_a_fair_grader_would(one_worker):
    course, run = one_worker
    assert "on 1 local worker" in run.stdout and len(_ok_lines(run.stdout)) == 6
    snapshot = _snapshot(course)
    assert set(snapshot) == SUBMISSIONS
    for quiz in CLASS:
        full = snapshot[f"alice/{quiz}"]["max_score"]
        assert snapshot[f"alice/{quiz}"]["score"] == full and snapshot[f"bob/{quiz}"]["score"] == 0
        assert 0 < snapshot[f"carol/{quiz}"]["score"] < full
    assert "progress: 6/6 graded" in run.stdout


@pytest.mark.slow
def test_two_workers_grade_identically_to_one(one_worker, class_course, tmp_path):
    course = _copy(class_course, tmp_path / "course")
    run = tg._run(course, "tools/grading.py", "autograde", "--workers", "2")
    assert run.returncode == 0 and "on 2 local workers" in run.stdout, run.stdout + run.stderr
    assert _snapshot(course) == _snapshot(one_worker[0])
    again = tg._run(course, "tools/grading.py", "autograde", "--workers", "2")
    assert again.returncode == 0 and "skipped 6 submissions graded before" in again.stdout and not _ok_lines(again.stdout)


def _autograde_in_background(course: Path, log: Path) -> subprocess.Popen:
    """A run that these tests kill parts of: its scratch folders go to a temporary folder of its own, so that what
    a killed worker leaves behind cannot show up in another test's check of the system's temporary folder."""
    scratch = course.parent / "tmp"
    scratch.mkdir(exist_ok=True)
    return grading_bench.start_process([sys.executable, "tools/grading.py", "autograde", "--workers", "2"], course, log,
                                       TMPDIR=str(scratch))


@pytest.mark.slow
def test_a_dask_cluster_of_two_workers_grades_identically(one_worker, class_course, tmp_path):
    course = _copy(class_course, tmp_path / "course")
    # the workers' own checkout: the course's code and configuration, and neither solutions nor submissions
    checkout = tg._scratch_course(tmp_path / "worker_checkout", [])
    address, processes = grading_bench.dask_cluster(checkout, 2)  # as `make scheduler` and `make worker` start them
    try:
        run = tg._run(course, "tools/grading.py", "autograde", "--scheduler", address)
        assert run.returncode == 0, run.stdout + run.stderr + (checkout / "worker-0.log").read_text()
        assert f"on the Dask cluster at {address}" in run.stdout
        assert _snapshot(course) == _snapshot(one_worker[0])
        assert not (checkout / "submitted").exists() and not (checkout / "autograded").exists()
    finally:
        for process in processes:
            grading_bench.end_process(process)


def _wait_for(predicate, timeout: float, what: str, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"waited {timeout:.0f} s for {what}; the run printed:\n{log_tail(log, 6000)}")


def _wait_to_end(run: subprocess.Popen, timeout: float, log: Path) -> None:
    try:
        run.wait(timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the run did not end in {timeout:.0f} s; it printed:\n{log_tail(log, 6000)}") from None


def _grading_worker(run: subprocess.Popen):
    """A Dask worker process of the run's LocalCluster that is grading now: a sandbox runs under it. (Not a
    sandbox itself: bubblewrap's outer process has an inner ``bwrap`` child, even in the run's start-up probe.)"""
    try:
        for child in psutil.Process(run.pid).children(recursive=True):
            if child.name() != "bwrap" and any(grandchild.name() == "bwrap" for grandchild in child.children()):
                return child
    except psutil.NoSuchProcess:
        pass
    return None


@pytest.mark.slow
def test_a_worker_killed_mid_grading_has_its_submission_graded_once_elsewhere(one_worker, class_course, tmp_path):
    course = _copy(class_course, tmp_path / "course")
    log = tmp_path / "run.log"
    run = _autograde_in_background(course, log)
    try:
        victim = _wait_for(lambda: _grading_worker(run), 300, "a worker to start grading", log)
        victim.kill()
        _wait_to_end(run, 900, log)
    finally:
        grading_bench.end_process(run)
    out = log.read_text()
    assert run.returncode == 0, out
    assert "left the cluster (killed, out of memory or stopped) while it held" in out, out
    ok = _ok_lines(out)
    assert sorted(line.split()[1].rstrip(":") for line in ok) == sorted(SUBMISSIONS), out  # each exactly once
    assert _snapshot(course) == _snapshot(one_worker[0])


@pytest.mark.slow
def test_ctrl_c_then_a_rerun_gives_the_uninterrupted_gradebook(one_worker, class_course, tmp_path):
    course = _copy(class_course, tmp_path / "course")
    log = tmp_path / "run.log"
    run = _autograde_in_background(course, log)
    try:
        _wait_for(lambda: _ok_lines(log.read_text()) and _grading_worker(run), 600, "one recorded submission", log)
        descendants = psutil.Process(run.pid).children(recursive=True)
        os.killpg(run.pid, signal.SIGINT)  # Ctrl+C in the instructor's terminal
        _wait_to_end(run, 120, log)
    finally:
        grading_bench.end_process(run)
    out = log.read_text()
    assert run.returncode == 130, out
    assert "stopped by Ctrl+C" in out and "run the same command again" in out, out
    time.sleep(1)
    assert not [p for p in descendants if p.is_running() and p.status() != psutil.STATUS_ZOMBIE], \
        "a process of the stopped run (a worker or a kernel) is still running"
    recorded = {line.split()[1].rstrip(":") for line in _ok_lines(out)}
    assert 0 < len(recorded) < 6 and set(_snapshot(course)) == recorded, out
    rerun = tg._run(course, "tools/grading.py", "autograde", "--workers", "2")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"skipped {len(recorded)} submission" in rerun.stdout
    assert {line.split()[1].rstrip(":") for line in _ok_lines(rerun.stdout)} == SUBMISSIONS - recorded
    assert _snapshot(course) == _snapshot(one_worker[0])


# --- The class report -----------------------------------------------------------------------------------------


FIGURE_DATA = r"""
import json, sys
sys.path.insert(0, "tools")
import grading_report
figures = grading_report.figures(grading_report.class_data())
scores = figures["scores"].axes[0]
dots = {tick.get_text(): sorted(round(float(y), 6) for y in collection.get_offsets()[:, 1])
        for tick, collection in zip(scores.get_xticklabels(), [c for c in scores.collections if len(c.get_offsets())])}
bars = {}
for name, axis in zip(("mean", "passing"), figures["questions"].axes):
    labels = [tick.get_text() for tick in figures["questions"].axes[0].get_yticklabels()]
    bars[name] = dict(zip(labels, [round(patch.get_width(), 6) for patch in axis.patches]))
print(json.dumps({"dots": dots, "bars": bars}))
"""


@pytest.mark.slow
def test_the_class_report_shows_what_the_gradebook_holds(one_worker):
    course, _ = one_worker
    run = tg._run(course, "tools/grading.py", "report")
    assert run.returncode == 0, run.stdout + run.stderr
    page = (course / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "Hidden tests that fail most" in page
    drawn = json.loads(tg._run(course, "-c", FIGURE_DATA).stdout)
    with tg._gradebook(course) as gb:
        expected_dots, means, passing = {}, {}, {}
        for quiz in CLASS:
            assignment = gb.find_assignment(quiz)
            expected_dots[quiz] = sorted(round(100 * s.score / s.max_score, 6) for s in assignment.submissions)
            for notebook in assignment.notebooks:
                for cell in notebook.grade_cells:
                    scores = [gb.find_grade(cell.name, notebook.name, quiz, s.student.id).score for s in assignment.submissions]
                    means[f"{quiz} / {cell.name}"] = round(100 * sum(scores) / len(scores) / cell.max_score, 6)
                    passing[f"{quiz} / {cell.name}"] = round(100 * sum(x >= cell.max_score for x in scores) / len(scores), 6)
    assert drawn["dots"] == expected_dots
    assert drawn["bars"]["mean"] == means and drawn["bars"]["passing"] == passing
    # carol's wrong letter and number are among the failing hidden tests, with her name
    assert "carol" in page and "bob" in page


# --- The benchmark's class ------------------------------------------------------------------------------------


def _answers(quiz) -> dict:
    """What a quiz submission's answer cells set, run as the kernel would."""
    import math

    namespace = {"math": math}
    for cell in quiz.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code" and "def " not in cell.source:
            try:
                exec(cell.source, namespace)  # noqa: S102  (the benchmark's own submissions)
            except NotImplementedError:  # a code question's stub
                pass
    return namespace


def test_the_benchmark_class_is_made_of_the_fixture_students(tmp_path):
    """tools/grading_bench.py's students: in a lesson each answers as one fixture kind; in a quiz the right
    answers, one wrong letter, one wrong number, or the blank release."""
    course = tmp_path / "course"
    roster = grading_bench.build_class(course, 4, ["quiz_1", "02_draft_and_verify"])
    assert list(roster.values()) == list(grading_bench.KINDS)
    quiz_key = tg.answer_key(tg._solution(course, "quiz_1"))
    for student, kind in roster.items():
        quiz = tg.nbformat.read(course / "submitted" / student / "quiz_1" / "quiz_1.ipynb", as_version=4)
        answers = _answers(quiz)
        wrong = {name for name in quiz_key if not tg._same(answers[name], quiz_key[name])}
        if kind == "alternative":
            assert all(tg._same(answers[name], value) for name, value in quiz_key.items())
        elif kind == "hardcoded":
            assert len(wrong) == 1 and isinstance(quiz_key[wrong.pop()], str)
        elif kind == "delegating":
            assert len(wrong) == 1 and not isinstance(quiz_key[wrong.pop()], str)
        else:
            assert quiz.cells == tg._released(course, "quiz_1").cells and all(answers[name] is None for name in quiz_key)
        lesson = tg.nbformat.read(course / "submitted" / student / "02_draft_and_verify" / "02_draft_and_verify.ipynb",
                                  as_version=4)
        sources = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in lesson.cells}
        fixtures = grading_bench.fixture_students.answers("02_draft_and_verify")
        for grade_id, kinds in fixtures.items():
            expected = (tg._released(course, "02_draft_and_verify") if kind == "blank" else None)
            if expected is not None:
                assert sources[grade_id] == next(c.source for c in expected.cells
                                                 if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
            else:
                assert sources[grade_id] == (kinds.get(kind) or kinds["slip"])
