"""Building a bundle: the core, the entry, the platform's shim with its slots filled, config.json and
the platform's manifests; the bundle's hash; and the single-file form for platforms that run one file.
Deterministic: the same config gives the same bytes."""

import ast
import functools
import hashlib
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHIMS = ROOT / "adapters" / "shims"
TEMPLATES = ROOT / "adapters" / "templates"
CORE_FILES = ("__init__.py", "callbacks.py", "capture.py", "config.py", "data_sources.py", "datasets.py",
              "environment.py", "errors.py", "experiment.py", "folds.py", "keras_import.py", "models.py",
              "notebook_run.py", "redact.py", "results.py", "script.py", "script_checks.py", "script_entry.py",
              "script_folds.py", "script_kernel.py", "seeding.py", "throughput.py", "userdata.py", "warm_model.py",
              "workspace.py")
EMBEDDED = "# The bundle's files, verbatim (the platform runs this one file).\n"


def fill_slots(source, values):
    """Replace each `NAME = ...  # slot...` line of a shim with NAME = repr(value)."""
    for name, value in values.items():
        pattern = re.compile(rf"^{re.escape(name)} = .*?(  # slot.*)?$", re.M)
        found = pattern.findall(source)
        if len(found) != 1 or "# slot" not in found[0]:
            raise RuntimeError(f"the shim has no single slot line for {name}")
        source = pattern.sub(lambda match: f"{name} = {value!r}{match.group(1)}", source)
    return source


def code_files(shim, slots, config_text):
    """The files every bundle's code holds besides core/: experiment.py, shim.py and config.json."""
    return {"experiment.py": (SHIMS / "entry.py").read_text(),
            "shim.py": fill_slots((SHIMS / f"{shim}.py").read_text(), slots),
            "config.json": config_text}


def core_files():
    return {f"core/{name}": (ROOT / "core" / name).read_text() for name in CORE_FILES}


def core_lines(files):
    """How many lines of `files` are the core carried verbatim (not a change, in the code diff)."""
    return sum(len(text.splitlines()) for path, text in files.items() if path.startswith("core/"))


def write(folder, files):
    folder = pathlib.Path(folder)
    for relative, text in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)


def bundle_hash(folder):
    """SHA-256 over every file's relative path and content, in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in pathlib.Path(folder).rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def single_file(files):
    """One Python file that carries `files` verbatim and runs their experiment.py (see shims/single_file.py)."""
    parts = [(SHIMS / "single_file.py").read_text(), "\n\n", EMBEDDED]
    for relative, text in files.items():
        literal = f"r'''{text}'''" if "'''" not in text and not text.endswith("\\") else repr(text)
        parts.append(f"BUNDLE[{relative!r}] = {literal}\n\n")
    parts.append('if __name__ == "__main__":\n    main()\n')
    return "".join(parts)


def unpack_single_file(text):
    """(the files a single-file bundle carries, the loader's own lines)."""
    files = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript) \
                and getattr(node.targets[0].value, "id", None) == "BUNDLE":
            files[ast.literal_eval(node.targets[0].slice)] = ast.literal_eval(node.value)
    loader = text.split(EMBEDDED, 1)[0].rstrip("\n") + "\n"
    return files, loader


@functools.cache
def _environment():
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), keep_trailing_newline=True,
                              undefined=jinja2.StrictUndefined, autoescape=False)


def render_template(name, **values):
    """A manifest from adapters/templates/ (Dockerfile, plan.sh, ...) with its values filled in."""
    return _environment().get_template(name).render(**values)
