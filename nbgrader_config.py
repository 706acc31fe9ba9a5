"""nbgrader course directory: the source is solutions/, the release is notebooks/.

    solutions/<assignment>/<assignment>.ipynb    instructor source (solution markers)
    notebooks/<assignment>/<assignment>.ipynb    generated student release (make release)
    submitted/<student>/<assignment>/*.ipynb     collected submissions (nbgrader collect / JupyterHub)
    autograded/<student>/<assignment>/           written by the grader, read by formgrader
    feedback/<student>/<assignment>/             per-student feedback

Grading itself is `python -m autograder grade` (make grade), not nbgrader's
own autograde: it runs student code in a sandboxed child process and writes the
scores into this gradebook, so formgrader, manual grading and export work. The
settings at the end send formgrader's Autograde button (and `nbgrader
autograde`) through that grader too.
"""

c = get_config()  # noqa: F821  (injected by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "rnn-from-scratch"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"

# Solution regions and the text the release puts in their place.
c.ClearSolutions.begin_solution_delimeter = "BEGIN SOLUTION"
c.ClearSolutions.end_solution_delimeter = "END SOLUTION"
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError()",
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# The release keeps no outputs; learners run the cells themselves.
c.ClearOutput.enabled = True

# nbgrader's own autograde (formgrader's Autograde button, `nbgrader autograde`) grades
# through this course's grader instead of running the notebook unsandboxed: its
# sanitize step runs `python -m autograder grade` for that student, its autograde step
# (Execute, SaveAutoGrades, ...) is empty. See autograder/grading/nbgrader_hooks.py.
c.Autograde.sanitize_preprocessors = ["autograder.grading.nbgrader_hooks.GradeWithCourseGrader"]
c.Autograde.autograde_preprocessors = []

# The grader writes its own feedback/ (with its report as the autograded notebook's first
# cell); `nbgrader generate_feedback` renders it again with the scores given by hand, so
# it always regenerates rather than "Skipping existing assignment".
c.GenerateFeedback.force = True

# The exchange (release_assignment, fetch_assignment, submit, collect, release_feedback,
# fetch_feedback) lives in Exchange.root, /usr/local/share/nbgrader/exchange by default,
# which must exist and be writable by everyone (README, Instructor's guide, section 2):
# c.Exchange.root = "/srv/nbgrader/exchange"
