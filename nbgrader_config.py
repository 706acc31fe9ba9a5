"""nbgrader course directory: the source is solutions/, the release is notebooks/.

    solutions/<assignment>/<assignment>.ipynb    instructor source (solution markers)
    notebooks/<assignment>/<assignment>.ipynb    generated student release (make release)
    submitted/<student>/<assignment>/*.ipynb     collected submissions (nbgrader collect / JupyterHub)
    autograded/<student>/<assignment>/           written by the grader, read by formgrader
    feedback/<student>/<assignment>/             per-student feedback

Grading itself is `python -m autograder grade` (make grade), not `nbgrader
autograde`: it runs student code in a sandboxed child process and writes the
scores into this gradebook, so formgrader, manual grading and export work.
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
