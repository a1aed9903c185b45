"""The lesson's exercises: the checks (``vl.check``), grading, the registry read from
the notebooks, hints and solutions, the learner's progress, and the build of the
learner's copies of the notebooks."""
