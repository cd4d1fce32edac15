"""The experiment as a Jupyter notebook, built with nbformat from adapters/shims/notebook.py (cells in
jupytext's percent format): readable cells for setup, data, model, training, evaluation and results,
the config as the first code cell, and the bundle (core, entry, the platform's shim, config.json) in
one collapsed cell. Deterministic: the same config gives the same bytes.

    portability notebook --preset mnist-reference --out experiment.ipynb
"""

import json
import re

from adapters import bundle

CELLS = bundle.SHIMS / "notebook.py"
BUNDLE_CELL = "bundle"


def percent_cells(text):
    """[(kind, tags, source)] of a percent-format file: kind is markdown, code or bundle."""
    cells = []
    for block in re.split(r"^# %%", text, flags=re.M)[1:]:
        header, _, body = block.partition("\n")
        kind = "markdown" if "[markdown]" in header else BUNDLE_CELL if header.strip() == BUNDLE_CELL else "code"
        tags = json.loads(header.split("tags=", 1)[1]) if "tags=" in header else []
        source = body.strip("\n")
        if kind == "markdown":
            source = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in source.splitlines())
        cells.append((kind, tags, source))
    return cells


def for_platform(shim, slots, values):
    """The notebook's text for a platform: its shim (slots filled), the config `values` and the core."""
    code = bundle.code_files(shim, slots, json.dumps(values, indent=2, sort_keys=True) + "\n")
    return to_text(build({**code, **bundle.core_files()}, values))


def python_literal(values):
    """The config as a Python dict literal, one key a line."""
    return "{\n" + "".join(f"    {key!r}: {value!r},\n" for key, value in sorted(values.items())) + "}"


def embedded(files):
    """The collapsed cell: the bundle's files verbatim, unpacked and put on the import path."""
    loader = bundle.single_file(files).rsplit('if __name__ == "__main__":', 1)[0]
    return loader.rstrip("\n") + "\n\nsys.path.insert(0, str(unpack()))\n"


def build(files, values):
    """The notebook (an nbformat node) for a bundle's `files` with the config `values`."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    for number, (kind, tags, source) in enumerate(percent_cells(CELLS.read_text())):
        if kind == "markdown":
            cell = nbformat.v4.new_markdown_cell(source)
        elif kind == BUNDLE_CELL:
            cell = nbformat.v4.new_code_cell(embedded(files))
            cell.metadata.update(collapsed=True, jupyter={"source_hidden": True}, tags=["bundle"])
        else:
            if "CONFIG = {}  # slot" in source:
                source = source.replace("CONFIG = {}  # slot", "CONFIG = " + python_literal(values))
            cell = nbformat.v4.new_code_cell(source)
            if tags:
                cell.metadata["tags"] = tags
        cell.id = f"cell-{number}"  # fixed ids: the same config, the same file
        notebook.cells.append(cell)
    notebook.metadata.update(kernelspec={"name": "python3", "display_name": "Python 3", "language": "python"},
                             language_info={"name": "python"})
    nbformat.validate(notebook)
    return notebook


def to_text(notebook):
    import nbformat

    return nbformat.writes(notebook) + "\n"


def code_of(text):
    """(the readable code cells joined, the files of the collapsed bundle cell) of a notebook's text,
    for the code diff: a notebook is compared with a script by its code cells."""
    import nbformat

    notebook = nbformat.reads(text, as_version=4)
    readable, files = [], {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if "bundle" in cell.metadata.get("tags", []):
            files, _ = bundle.unpack_single_file(cell.source)
        else:
            readable.append(cell.source)
    return "\n\n".join(readable) + "\n", files


def execute(path, workdir, executed=None, timeout=1800):
    """Run every cell with nbclient in `workdir` (a kernel of this Python), the notebook file unchanged;
    the executed copy, outputs and all, goes to `executed`. Raises nbclient's CellExecutionError, which
    names the cell and the error, when one fails."""
    import os
    import tempfile

    import nbclient
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(workdir)}})
    # the kernel's temp folder is ours, removed afterwards: the bundle cell unpacks a copy of the code there
    with tempfile.TemporaryDirectory(prefix="portability-kernel-") as scratch:
        try:
            client.execute(env={**os.environ, "TMPDIR": scratch})
        finally:
            if executed:
                nbformat.write(notebook, executed)
    return notebook


if __name__ == "__main__":  # python -m adapters.notebook NOTEBOOK [WORKDIR]: run it as Kaggle runs a kernel
    import pathlib
    import sys

    workdir = pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else ".").resolve()  # Kaggle: /kaggle/working
    try:
        execute(pathlib.Path(sys.argv[1]), workdir, executed=workdir / "__notebook__.ipynb")
    except Exception as error:  # nbclient names the failing cell and its error
        print(str(error)[-3000:], file=sys.stderr)
        sys.exit(1)
