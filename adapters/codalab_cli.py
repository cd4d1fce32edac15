"""Where CodaLab's `cl` program is, which Python runs it, and whether a user is signed in: the CLI runs
as a separate program (the `codalab` package only installs on Python 3.9)."""

import json
import os
import pathlib
import shutil

from adapters import bundle

ROOT = bundle.ROOT


def cl_path():
    """The `cl` program: $PORTABILITY_CODALAB_CL if set, else the project's .codalab-venv, else PATH."""
    if os.environ.get("PORTABILITY_CODALAB_CL"):
        return os.environ["PORTABILITY_CODALAB_CL"] if pathlib.Path(os.environ["PORTABILITY_CODALAB_CL"]).is_file() else None
    for candidate in (ROOT / ".codalab-venv" / "bin" / "cl", shutil.which("cl")):
        if candidate and pathlib.Path(candidate).is_file():
            return str(candidate)
    return None


def cl_python(program):
    """The Python interpreter that runs the `cl` console script, read from its #! line. pip writes either
    `#!/path/python` or, for long paths, `#!/bin/sh` and then an exec line naming the Python in quotes."""
    try:
        lines = pathlib.Path(program).read_bytes()[:1000].decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    if not lines or not lines[0].startswith("#!"):
        return None
    words = lines[0][2:].split()
    if words == ["/bin/sh"] and len(lines) > 1 and "exec" in lines[1] and lines[1].count('"') >= 2:
        words = [lines[1].split('"')[1]]
    if words and pathlib.Path(words[0]).name == "env":
        words = words[1:]
    if len(words) != 1 or "python" not in pathlib.Path(words[0]).name:
        return None
    return shutil.which(words[0])


def logged_in():
    """Whether an earlier `cl login` left a token in $CODALAB_HOME/state.json."""
    home = pathlib.Path(os.environ.get("CODALAB_HOME") or pathlib.Path.home() / ".codalab")
    try:
        return bool(json.loads((home / "state.json").read_text()).get("auth"))
    except (OSError, ValueError, AttributeError):
        return False
