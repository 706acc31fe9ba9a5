"""The authoritative grader (``python -m autograder grade``).

Pipeline, one module per step:

=============  ==============================================================
notebook       read a submission as JSON; pick the student's solution cells
               and the source's locked and check cells
sandbox        start a child process with limits, hidden paths, no network
cgroups        one memory limit and one CPU per child and all it starts
child          (runs in the child) build its own root, execute cells, call
               functions, reply
compare        hidden cases, reference answers, the verdict per exercise
engine         grade one submission: the steps above, faults and respawns
record         gradebook, autograded/, feedback, CSV, results.json, table
cli            the command line, and the run over many submissions
samples        build the sample submissions from the current notebooks
gradescope     the Gradescope autograder zip
=============  ==============================================================
"""
