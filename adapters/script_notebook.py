"""A researcher's own notebook as a notebook kernel (Kaggle): the user's cells, unmodified, between two
harness cells (core/script_kernel.py runs in them). The first, collapsed and tagged `bundle`, carries the
bundle (entry, shim, config.json, core and the user's file, against whose hash the run is checked) and
calls `begin`; the last calls `finish`. The notebook's metadata (its kernelspec) is the user's.

    text = script_notebook.render(files, pathlib.Path("kaggle-style.ipynb"))
"""

from adapters import notebook

BEGIN = """# portability: the harness, before your cells (not part of your notebook): the bundle unpacked, your
# --data found and laid out at its DEST, the auto-logging hooks installed; your cells run in working/
{loader}
import json as _json
import experiment as _portability_entry
from core import script_kernel as _script_kernel

_portability = _script_kernel.begin(
    _json.loads((_portability_entry.HERE / "config.json").read_text())["own_experiment"],
    _portability_entry.shim, _portability_entry.HERE, _portability_entry.hook)"""
FINISH = "_portability.finish()  # portability: the record of what your cells did (results.json, outputs listed)"


def render(files, path):
    """The notebook kernel's text: BEGIN, the cells of the notebook at `path` as they are in its JSON, FINISH."""
    import json

    import nbformat

    user = json.loads(path.read_text())
    begin = nbformat.v4.new_code_cell(BEGIN.format(loader=notebook.embedded(files).rstrip("\n")))
    begin.metadata.update(collapsed=True, jupyter={"source_hidden": True}, tags=["portability", "bundle"])
    finish = nbformat.v4.new_code_cell(FINISH)
    finish.metadata["tags"] = ["portability"]
    for cell, name in ((begin, "portability-begin"), (finish, "portability-finish")):
        if (user.get("nbformat"), user.get("nbformat_minor", 0)) >= (4, 5):
            cell.id = name
        else:  # cell ids came with nbformat 4.5: an older notebook keeps its format
            del cell["id"]
    user["cells"] = [json.loads(json.dumps(begin)), *user["cells"], json.loads(json.dumps(finish))]
    user.setdefault("metadata", {}).setdefault("kernelspec", {"name": "python3", "display_name": "Python 3",
                                                              "language": "python"})
    nbformat.validate(nbformat.from_dict(user))
    return json.dumps(user, indent=1, ensure_ascii=False) + "\n"


def user_cells(text):
    """The cells of a notebook kernel's text that are the user's (the harness cells left out), as JSON."""
    import json

    return [cell for cell in json.loads(text)["cells"] if "portability" not in cell.get("metadata", {}).get("tags", [])]
