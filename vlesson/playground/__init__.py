"""The lesson's playground: sliders that stream a generation (``vl.widgets``), the
next-token distribution, and the scheduler's view."""
