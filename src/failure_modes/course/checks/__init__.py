"""Checkers for the notebooks' coding tasks, one module per notebook.

Every coding task follows one protocol. The student's cell defines a value or a function with
``...`` where the work goes; the cell after it, in both notebook versions, passes the answer
to a checker here::

    dotted = checks.core.pixel_taint(dotted, sevens)

The checker shows one sentence (:class:`~failure_modes.course.checks.feedback.Verdict`): the
answer is correct; or it names the mistake (expected vs got where a number helps); or the task
is not done yet. It returns what the notebook goes on with: the student's answer when it is
correct, else the reference answer (one of the library's own functions), and says so, so that
every later cell runs. The mechanism is in :mod:`failure_modes.course.checks.feedback`.
"""
