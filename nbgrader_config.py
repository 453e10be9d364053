"""nbgrader configuration for the course's quizzes (see quizzes/README.md).

Run nbgrader from the repository root with .venv/bin on PATH (nbgrader shells out to `alembic`).
"""

import os

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)
HERE = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "specdec-course"
c.CourseDirectory.root = os.path.join(HERE, "quizzes")
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "quizzes", "gradebook.db")

# A student's answer cell starts with this stub.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Model code is slow on a laptop CPU: give each cell more than the default 30 s.
c.Execute.timeout = 120

# A student who deletes a test cell must still be graded on it.
c.OverwriteCells.add_missing_cells = True
