"""The comparison: every platform's runs against the target and the local run, the code each platform
needed beyond the local run, and the generated docs. Reads the run store and the generated
platforms/ folders; imports no platform SDK.

    data = report.build("results/")   # writes report.md, report.html and plots/
"""

from report.build import build, failing_rows, table_cells  # noqa: F401
