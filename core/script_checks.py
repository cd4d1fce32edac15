"""Checks of a user's script or notebook before it runs: readable, valid Python (a notebook: valid JSON
and valid notebook, each code cell valid Python once IPython's `%magics` and `!commands` are
translated). Each problem is one UsageError naming the file, the line and the fix. No TensorFlow."""

import json
import warnings

from core.errors import UsageError


def read_text(path):
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(f"--script {path}: not UTF-8 text (byte {error.start}): save it as UTF-8") from None
    except OSError as error:
        raise UsageError(f"--script {path}: cannot be read ({error.strerror}): check its permissions") from None


def syntax_problem(source, where):
    """The one-line message of a syntax error in `source`, or None."""
    try:
        compile(source, where, "exec", dont_inherit=True)
    except SyntaxError as error:
        line = (error.text or "").strip()
        shown = f" in `{line[:80]}`" if line else ""
        return f"{where} line {error.lineno}: {error.msg}{shown}: fix the syntax and run again"
    except ValueError as error:  # e.g. a null byte in the source
        return f"{where}: {error}: save the script as plain text"
    return None


def check_python(path):
    problem = syntax_problem(read_text(path), str(path))
    if problem:
        raise UsageError(f"--script {problem}")


def check_notebook(path):
    text = read_text(path)
    try:
        json.loads(text)
    except ValueError as error:
        raise UsageError(f"--script {path} is not a notebook: not JSON ({error}): save it from Jupyter as .ipynb, "
                         "or pass a .py script") from None
    import nbformat

    try:
        with warnings.catch_warnings():  # notebooks saved before nbformat 4.5 have no cell ids: fine to run
            warnings.simplefilter("ignore")
            notebook = nbformat.reads(text, as_version=4)
            nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several types for a JSON file that is no notebook
        message = str(error).splitlines()[0][:200]
        raise UsageError(f"--script {path} is JSON but not a valid notebook ({message}): save it from Jupyter") from None
    from IPython.core.inputtransformer2 import TransformerManager

    transform = TransformerManager().transform_cell
    for number, cell in enumerate((c for c in notebook.cells if c.cell_type == "code"), start=1):
        problem = syntax_problem(transform(cell.source), f"{path} code cell {number}")
        if problem:
            raise UsageError(f"--script {problem}")
