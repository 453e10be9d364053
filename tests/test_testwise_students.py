"""Test-wise students: can someone who knows nothing pass the multiple-choice questions by reading the options?

A test-wise student does not know the answer and picks by a surface feature of the options. Three strategies:

* ``longest``: the option with the most characters (the right option is often the long, qualified one);
* ``overlap``: the option that shares the most distinct words with the question's stem (stop words left out);
* ``always_a`` ... ``always_d``: the same letter everywhere.

Multiple-choice questions are found in the solution notebooks: an answer cell whose solution region is one
assignment of a letter (``q3 = "b"``), its options in the markdown cell above it (lines ``- **a)** ...``), and its
points on the test cell after it. Numeric and code questions earn a test-wise student nothing: it leaves them as
the release has them (``raise NotImplementedError()``).

**The bar.** *Chance* on a quiz is what a student who guesses every letter at random expects: a quarter of the
points of its multiple-choice questions (numeric and code questions earn a guesser nothing). Every strategy must
score at most **1.5 times chance** on every quiz and on the final check, and over all the course's multiple-choice
questions together (the quizzes and lesson 8's two). A tie (two options equally long, or sharing as many words)
counts in the fast part as a fair coin among the tied options (the expected score); the slow part, which grades
real submissions, breaks a tie by taking the first of the tied options. Lesson 8 has only two multiple-choice
questions, which no letter can reach 1.5x chance on unless neither is answered: there the longest and the overlap
strategies must score 0 and the two right letters must differ (so ``always_x`` gets at most one of the two).

Each quiz also keeps at least one letter question and at least one numeric one (tests/test_grading.py builds
wrong submissions by changing one of each), its right letters spread over a-d (no letter right more than once
more often than another), and every option list has the four letters a-d.

Fast part: the strategies' scores computed from the solution notebooks. Slow part: the strategies' submissions
built from the released quizzes and graded by nbgrader's own autograde on a scratch course (as
tests/test_fixture_students.py does): each must score at most 1.5x chance, and the solution full marks.
"""

from __future__ import annotations

import ast
import math
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
QUIZZES = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and p.name.startswith(("quiz", "final")))
LESSON_8 = "08_domain_effects"
LETTERS = "abcd"
CHANCE = 0.25   # four options
BAR = 1.5       # a strategy may score at most this many times chance
STRATEGIES = ("longest", "overlap", *(f"always_{letter}" for letter in LETTERS))
OPTION = re.compile(r"^- \*\*([a-d])\)\*\*\s*(.*?)\s*$")
STOP = frozenset("""a an and are as at be by can do does for from has have how in into is it its of on one or so
    than that the their then there these this to was what when where which while who why will with you your""".split())

pytestmark = [pytest.mark.filterwarnings("ignore:User-placed attribute:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:Object of type:Warning")]  # nbgrader gradebook notices, not ours


@dataclass
class Question:
    grade_id: str          # the answer cell's
    stem: str              # the question's text, options left out
    options: dict[str, str]
    key: str
    points: float


@dataclass
class Quiz:
    name: str
    choice: list[Question] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)    # grade_ids of the questions answered by a number
    code: list[str] = field(default_factory=list)       # grade_ids of the questions answered by a function
    total_points: float = 0.0

    @property
    def choice_points(self) -> float:
        return sum(q.points for q in self.choice)

    @property
    def chance(self) -> float:
        return CHANCE * self.choice_points


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _text(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _solution_region(source: str) -> str | None:
    match = re.search(r"### BEGIN SOLUTION\n(.*?)\n\s*### END SOLUTION", source, re.S)
    return match.group(1) if match else None


def _options(markdown: str) -> dict[str, str]:
    """letter -> option text, from the lines ``- **a)** ...`` (an option may go on over indented lines)."""
    options, letter = {}, None
    for line in markdown.splitlines():
        match = OPTION.match(line)
        if match:
            letter = match.group(1)
            options[letter] = match.group(2)
        elif letter and line.startswith((" ", "\t")) and line.strip():
            options[letter] += " " + line.strip()
        else:
            letter = None
    return options


def _stem(markdown: str) -> str:
    """The question's own text: from its last heading (``### Question 4``, ``**Question B.**``) on, options left out."""
    lines, in_option = [], False
    for line in markdown.splitlines():
        in_option = bool(OPTION.match(line)) or (in_option and line.startswith((" ", "\t")) and bool(line.strip()))
        if not in_option:
            lines.append(line)
    text = "\n".join(lines)
    starts = [m.start() for m in re.finditer(r"^(### Question|\*\*Question)", text, re.M)]
    text = text[starts[-1]:] if starts else text
    return re.sub(r"^### Question \d+ \(\d+ points?\)", "", text).strip()


def parse(notebook, name: str) -> Quiz:
    """The questions of a solution notebook (an nbformat notebook or its JSON as a dict)."""
    cells = notebook["cells"]
    quiz = Quiz(name)
    for i, cell in enumerate(cells):
        meta = _nbgrader(cell)
        source = _text(cell)
        if meta.get("grade"):
            quiz.total_points += float(meta.get("points", 0))
        if cell["cell_type"] != "code" or not meta.get("solution"):
            continue
        region = _solution_region(source)
        if region is None:
            continue
        test = next(c for c in cells[i + 1:] if _nbgrader(c).get("grade"))
        points = float(_nbgrader(test).get("points", 0))
        try:
            tree = ast.parse(textwrap.dedent(region))
        except SyntaxError:
            tree = None
        if tree is None or not tree.body or not all(isinstance(node, ast.Assign) for node in tree.body):
            quiz.code.append(meta["grade_id"])   # a function (or the body of one) to write
            continue
        last = tree.body[-1].value
        value = last.value if isinstance(last, ast.Constant) else None
        if isinstance(value, str):
            text = next(_text(c) for c in reversed(cells[:i])
                        if c["cell_type"] == "markdown" and any(map(OPTION.match, _text(c).splitlines())))
            options = _options(text)
            quiz.choice.append(Question(meta["grade_id"], _stem(text), options, value.strip().lower(), points))
        else:
            quiz.numeric.append(meta["grade_id"])
    return quiz


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[^\W_]+", text.lower()) if w not in STOP}


def feature(strategy: str, question: Question) -> dict[str, float]:
    """How much ``strategy`` likes each option; it picks one of those it likes most."""
    if strategy == "longest":
        return {letter: len(text) for letter, text in question.options.items()}
    if strategy == "overlap":
        stem = _words(question.stem)
        return {letter: len(_words(text) & stem) for letter, text in question.options.items()}
    letter = strategy.removeprefix("always_")
    return {o: float(o == letter) for o in question.options}


def favourites(strategy: str, question: Question) -> list[str]:
    liked = feature(strategy, question)
    best = max(liked.values())
    return sorted(letter for letter, value in liked.items() if value == best)


def pick(strategy: str, question: Question) -> str:
    """The letter a real submission gets: the first of the favourites."""
    return favourites(strategy, question)[0]


def expected_score(strategy: str, questions: list[Question]) -> float:
    """Points expected when ties are broken by a fair coin."""
    total = 0.0
    for q in questions:
        tied = favourites(strategy, q)
        total += q.points * (q.key in tied) / len(tied)
    return total


def solution_notebook(assignment: str):
    return nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)


def quizzes() -> dict[str, Quiz]:
    return {name: parse(solution_notebook(name), name) for name in QUIZZES}


def report(quiz: Quiz) -> str:
    parts = [f"{s} {expected_score(s, quiz.choice):g}" for s in STRATEGIES]
    return (f"{quiz.name}: {len(quiz.choice)} letter questions ({quiz.choice_points:g} of {quiz.total_points:g} points), "
            f"chance {quiz.chance:g}, bar {BAR * quiz.chance:g}; " + ", ".join(parts))


def failures(quiz: Quiz, score=expected_score) -> list[str]:
    """The strategies that score above the bar on ``quiz``."""
    return [f"{s} scores {score(s, quiz.choice):g} > {BAR * quiz.chance:g}" for s in STRATEGIES
            if score(s, quiz.choice) > BAR * quiz.chance + 1e-9]


# --- Fast part: the strategies on the solution notebooks -------------------------------------------------


def test_every_quiz_is_found_with_its_questions():
    found = quizzes()
    assert {"quiz_1", "quiz_2", "quiz_3", "quiz_4", "final_check"} <= set(found)
    for quiz in found.values():
        assert quiz.choice and quiz.numeric, f"{quiz.name}: needs a letter question and a numeric one ({report(quiz)})"
        for q in quiz.choice:
            assert sorted(q.options) == list(LETTERS), f"{quiz.name} {q.grade_id}: options {sorted(q.options)}"
            assert q.key in q.options and q.points > 0 and q.stem, f"{quiz.name} {q.grade_id}"


@pytest.mark.parametrize("name", QUIZZES)
def test_no_testwise_strategy_beats_one_and_a_half_times_chance(name):
    quiz = quizzes()[name]
    broken = failures(quiz)
    assert not broken, report(quiz) + "\n" + "\n".join(broken)
    broken = failures(quiz, score=lambda s, qs: sum(q.points for q in qs if pick(s, q) == q.key))
    assert not broken, "with the first of tied options: " + report(quiz) + "\n" + "\n".join(broken)


@pytest.mark.parametrize("name", QUIZZES)
def test_right_letters_are_spread_over_a_to_d(name):
    keys = [q.key for q in quizzes()[name].choice]
    counts = [keys.count(letter) for letter in LETTERS]
    assert max(counts) - min(counts) <= 1, f"{name}: right letters {dict(zip(LETTERS, counts))}"


def test_lesson_8_questions_are_not_given_away_by_their_options():
    lesson = parse(solution_notebook(LESSON_8), LESSON_8)
    assert len(lesson.choice) == 2, report(lesson)
    for strategy in ("longest", "overlap"):
        assert expected_score(strategy, lesson.choice) == 0, report(lesson)
        assert all(pick(strategy, q) != q.key for q in lesson.choice), report(lesson)
    assert len({q.key for q in lesson.choice}) == 2, "lesson 8: the two right letters are the same"


def test_no_strategy_beats_one_and_a_half_times_chance_over_the_whole_course():
    parts = [*quizzes().values(), parse(solution_notebook(LESSON_8), LESSON_8)]
    pooled = Quiz("all", [q for quiz in parts for q in quiz.choice], total_points=sum(quiz.total_points for quiz in parts))
    broken = failures(pooled)
    assert not broken, report(pooled) + "\n" + "\n".join(broken)


def test_the_check_catches_options_that_give_the_answer_away():
    """A question whose right option is the long one that repeats the stem fails the bar."""
    stem = "What does speculative decoding at temperature 0 write, compared with the target alone?"
    right = "Exactly the target's own greedy output at temperature 0, token for token, compared with the target alone."
    questions = [Question(f"q{i}", stem, {"a": "Noise.", "b": "The draft's.", "c": "Nothing.", "d": right}, "d", 1)
                 for i in range(4)]
    quiz = Quiz("made_up", questions, ["q9"])
    assert {f.split()[0] for f in failures(quiz)} == {"longest", "overlap", "always_d"}


# --- Slow part: the strategies' submissions, graded by nbgrader ----------------------------------------------


def _scratch_course(tmp: Path) -> Path:
    course = tmp / "course"
    (course / "tools").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copy(ROOT / "tools" / "release.py", course / "tools" / "release.py")
    for name in QUIZZES:
        shutil.copytree(ROOT / "solutions" / name, course / "solutions" / name)
    env = dict(os.environ, PATH=f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    subprocess.run([sys.executable, str(course / "tools" / "release.py"), "--quiet", *QUIZZES], cwd=course,
                   env=env, check=True, capture_output=True, text=True)
    return course


def _submission(course: Path, name: str, strategy: str, quiz: Quiz):
    if strategy == "solution":
        return nbformat.read(course / "solutions" / name / f"{name}.ipynb", as_version=4)
    notebook = nbformat.read(course / "quizzes" / name / f"{name}.ipynb", as_version=4)
    answers = {q.grade_id: pick(strategy, q) for q in quiz.choice}
    for cell in notebook.cells:
        grade_id = _nbgrader(cell).get("grade_id")
        if grade_id in answers:
            cell.source = f'{grade_id} = "{answers.pop(grade_id)}"'
    assert not answers, f"{name}: answer cells missing from the release: {sorted(answers)}"
    return notebook


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[tuple[str, str], tuple[float, float]]:
    """(quiz, strategy or "solution") -> (score, max score), from nbgrader's autograde."""
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    os.environ["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"  # alembic
    course = _scratch_course(tmp_path_factory.mktemp("testwise"))
    parsed = quizzes()
    students = ["solution", *STRATEGIES]
    for name in QUIZZES:
        for student in students:
            folder = course / "submitted" / student / name
            folder.mkdir(parents=True)
            nbformat.write(_submission(course, name, student, parsed[name]), folder / f"{name}.ipynb")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    config.Execute.kernel_name = "python3"
    api = NbGraderAPI(config=config)
    scores = {}
    for name in QUIZZES:
        for student in students:
            result = api.autograde(name, student, force=True, create=True)
            assert result["success"], f"autograde of {student}/{name} failed: {result.get('error') or result.get('log')}"
    with Gradebook(config.CourseDirectory.db_url) as gradebook:
        for name in QUIZZES:
            for student in students:
                submission = gradebook.find_submission(name, student)
                scores[name, student] = (float(submission.score), float(submission.max_score))
    return scores


@pytest.mark.slow
@pytest.mark.parametrize("name", QUIZZES)
def test_graded_solution_gets_full_marks(graded, name):
    score, top = graded[name, "solution"]
    assert top == quizzes()[name].total_points and score == top, f"{name}: the solution got {score:g} of {top:g}"


@pytest.mark.slow
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("name", QUIZZES)
def test_graded_testwise_student_scores_at_most_one_and_a_half_times_chance(graded, name, strategy):
    quiz = quizzes()[name]
    score, top = graded[name, strategy]
    assert top == quiz.total_points
    assert score <= BAR * quiz.chance + 1e-9, f"{name}: {strategy} got {score:g} of {top:g} > {BAR * quiz.chance:g}"
    # what nbgrader gave is what the parse predicts: the letter questions the strategy gets right, nothing else
    assert math.isclose(score, sum(q.points for q in quiz.choice if pick(strategy, q) == q.key)), (name, strategy, score)
