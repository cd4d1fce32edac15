"""A user's notebook run cell by cell in a real Jupyter kernel (nbclient, a kernel of this Python), with
core/capture.py's hooks installed by a setup cell first and the record written by a last cell, which
runs even when a cell failed. The user's file is read, never written: the executed copy, outputs and
all, goes to run_dir/notebook.executed.ipynb. Each cell's printed text is passed to `log`."""

import json
import re

SETUP = """# portability: the auto-logging hooks, installed before the notebook's own cells (not part of it)
import sys as _sys
_sys.path.insert(0, {root!r})
from core import capture as _portability_capture
_portability_recorder = _portability_capture.install(**{hooks!r}, log=lambda message: None)
del _sys.path[0]"""
FINISH = "_portability_recorder.finish({path!r})  # portability: the record of what the cells did"


def run(path, working, run_dir, hooks, log):
    """(the capture record, a failure message or None) of the notebook at `path` run in `working`."""
    import nbclient
    import nbformat

    from core import script

    notebook = nbformat.read(path, as_version=4)
    record_path = run_dir / "capture.json"
    setup = nbformat.v4.new_code_cell(SETUP.format(root=str(script.ROOT), hooks=hooks))
    finish = nbformat.v4.new_code_cell(FINISH.format(path=str(record_path)))
    for cell in (setup, finish):
        cell.metadata["tags"] = ["portability"]
    notebook.cells = [setup, *notebook.cells, finish]
    client = nbclient.NotebookClient(notebook, timeout=None, kernel_name="python3",
                                     resources={"metadata": {"path": str(working)}})
    failure = None
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code" or (failure and cell is not finish):
                continue
            try:
                client.execute_cell(cell, index)
            except nbclient.exceptions.CellExecutionError:
                if cell is setup or cell is finish:
                    raise
                failure = cell_failure(path.name, cell, sum(c.cell_type == "code" for c in notebook.cells[1:index + 1]))
            finally:
                echo(cell, log)
    nbformat.write(notebook, run_dir / "notebook.executed.ipynb")
    return json.loads(record_path.read_text()), failure


def echo(cell, log):
    printed = "".join(output.get("text", "") for output in cell.get("outputs", []) if output.get("output_type") == "stream")
    if printed.strip():
        log(printed.rstrip("\n"))


def cell_failure(name, cell, number):
    """The failure's message: the error and the failing cell's own traceback, labelled as the notebook's."""
    from core import script

    error = next((output for output in cell.outputs if output.get("output_type") == "error"), {})
    tail = ansi_free("\n".join(error.get("traceback", []))).splitlines()[-20:]
    what = f"{error.get('ename', 'an error')}: {error.get('evalue', '')}".splitlines()[0] + f" in code cell {number}"
    return script.failure_message(name, what, tail)


def ansi_free(text):
    return re.sub(r"\x1b\[[0-9;]*m", "", text)
