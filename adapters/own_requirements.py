"""The packages a researcher's script needs on a platform that installs packages (Docker's image).

In order: `--requirements FILE`; else a requirements.txt beside the script; else the script's imports,
read statically as pipreqs does (no code runs: `import x`, `from x import y`, in a notebook every code
cell, IPython magics skipped), each mapped to the distribution that provides it here and pinned to the
version installed here, so the platform runs what ran locally. The standard library, the script's own
modules (files beside it) and the runtime every bundle already has (TensorFlow, Keras, NumPy, h5py) are
left out; a notebook adds its kernel (ipykernel, nbclient, nbformat).

    own_requirements.needed(pathlib.Path("train.py"))   # ["pandas==3.1.1"]
"""

import ast
import importlib.metadata
import json
import pathlib
import re
import sys

from core.errors import UsageError

NOTEBOOK_KERNEL = ("ipykernel", "nbclient", "nbformat")


def normalized(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def code_of(path):
    """The Python source of a script, or of a notebook's code cells (magics and shell lines dropped)."""
    text = path.read_text()
    if path.suffix.lower() != ".ipynb":
        return text
    cells = [cell for cell in json.loads(text).get("cells", []) if cell.get("cell_type") == "code"]
    lines = []
    for cell in cells:
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        lines += [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    return "\n".join(lines)


def imported_modules(path):
    """Top-level names of the modules the code imports (absolute imports only), sorted."""
    try:
        tree = ast.parse(code_of(path), filename=str(path))
    except SyntaxError as error:
        raise UsageError(f"--script {path}: line {error.lineno}: {error.msg}: fix the syntax error") from None
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return sorted(names)


def own_modules(folder):
    """Modules the script imports from its own folder (not packages to install)."""
    return {path.stem for path in folder.glob("*.py")} | {path.name for path in folder.iterdir() if path.is_dir()}


def from_imports(path, runtime=()):
    """`name==version` for each distribution providing a third-party module the script imports."""
    providers = importlib.metadata.packages_distributions()
    skip = set(sys.stdlib_module_names) | own_modules(path.parent) | {"__future__"}
    runtime = {normalized(name) for name in runtime}
    pinned, unknown = {}, []
    for module in imported_modules(path):
        if module in skip:
            continue
        distributions = providers.get(module)
        if not distributions:
            unknown.append(module)
            continue
        for distribution in distributions:
            if normalized(distribution) not in runtime:
                pinned[normalized(distribution)] = f"{distribution}=={importlib.metadata.version(distribution)}"
    if unknown:
        raise UsageError(f"{path.name} imports {', '.join(unknown)}, not installed here: install it (the platform "
                         "gets the version installed here), or list the packages with --requirements FILE")
    return [pinned[key] for key in sorted(pinned)]


def read_file(path):
    """The requirement lines of a requirements file (comments and blank lines dropped)."""
    try:
        text = pathlib.Path(path).read_text()
    except OSError as error:
        raise UsageError(f"--requirements {path}: {error.strerror}: give a requirements.txt file") from None
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def needed(script_path, requirements_file=None, runtime=()):
    """(the requirement lines, where they came from) for the script, the runtime left out."""
    script_path = pathlib.Path(script_path)
    beside = script_path.parent / "requirements.txt"
    if requirements_file:
        lines, source = read_file(requirements_file), f"--requirements {requirements_file}"
    elif beside.is_file():
        lines, source = read_file(beside), str(beside)
    else:
        lines, source = from_imports(script_path, runtime), f"the imports of {script_path.name} (pinned to this machine)"
    if script_path.suffix.lower() == ".ipynb":
        named = {normalized(re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0]) for line in lines}
        lines = lines + [f"{name}=={importlib.metadata.version(name)}" for name in NOTEBOOK_KERNEL if name not in named]
    runtime = {normalized(name) for name in runtime}
    lines = [line for line in lines if normalized(re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0]) not in runtime]
    return lines, source
