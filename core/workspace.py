"""A run's workspace for a researcher's own script, in Kaggle's layout: `working/` (the script's current
folder, where what it writes is the run's output) beside `input/`. Each `--data SRC[:DEST]` item (a file
or a folder) is copied, read-only, to DEST relative to `working/` (default: SRC's name), so both
`np.load("mnist.npz")` and `np.load("../input/mnist.npz")` work as written. No TensorFlow.

    items = workspace.parse_data(["mnist.npz", "mnist.npz:../input/mnist.npz"])   # checked, hashed
    workspace.lay_out(run_dir / "workspace", items)
    workspace.outputs(run_dir / "workspace", items)   # [{path, bytes, sha256}] of what the script wrote
"""

import dataclasses
import hashlib
import os
import pathlib
import posixpath
import shutil
import stat

from core.errors import UsageError

IGNORED = ("__pycache__", ".ipynb_checkpoints")


@dataclasses.dataclass
class DataItem:
    """One --data item: where it is here, where the script finds it (relative to working/), its files."""

    source: pathlib.Path
    dest: str
    files: list  # [{"path": relative to the source, "dest": relative to working/, "sha256"}]

    def describe(self):
        return [{"path": str(self.source / entry["path"]) if entry["path"] != "." else str(self.source),
                 "dest": entry["dest"], "sha256": entry["sha256"]} for entry in self.files]


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def split_item(text):
    """(SRC, DEST or None) of `SRC[:DEST]`; a SRC that exists as written keeps any colon in its name."""
    if os.path.exists(text) or ":" not in text:
        return text, None
    source, dest = text.rsplit(":", 1)
    return source, dest or None


def check_dest(dest, original):
    """DEST normalized (POSIX, relative to working/); refused if it leaves the workspace or is a folder
    the layout owns."""
    if dest.startswith(("/", "\\")) or (len(dest) > 1 and dest[1] == ":"):
        raise UsageError(f"--data {original}: DEST {dest!r} is an absolute path: give a path relative to the "
                         "script's working folder, e.g. mnist.npz or ../input/mnist.npz")
    inside = posixpath.normpath(posixpath.join("working", dest.replace("\\", "/")))
    if inside in (".", "working") or inside.startswith("../") or inside == "..":
        raise UsageError(f"--data {original}: DEST {dest!r} leaves the run's workspace (working/ and input/): "
                         "give a path such as mnist.npz or ../input/mnist.npz")
    return posixpath.relpath(inside, "working")


def parse_data(items):
    """The --data items, each checked (it exists, its DEST stays in the workspace) and hashed."""
    parsed, taken = [], {}
    for text in items or []:
        source_text, dest = split_item(str(text))
        source = pathlib.Path(source_text)
        if not source.exists():
            raise UsageError(f"--data {text}: {source} does not exist: give the path of a file or folder the script reads")
        dest = check_dest(dest if dest is not None else source.resolve().name, text)
        if dest in taken:
            raise UsageError(f"--data {text}: {dest} is already the DEST of --data {taken[dest]}: give each item its own DEST")
        taken[dest] = text
        parsed.append(DataItem(source, dest, list(hash_tree(source, dest))))
    return parsed


def hash_tree(source, dest):
    if source.is_file():
        yield {"path": ".", "dest": dest, "sha256": sha256_file(source)}
        return
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = path.relative_to(source).as_posix()
        yield {"path": relative, "dest": posixpath.join(dest, relative), "sha256": sha256_file(path)}


def lay_out(workspace, items):
    """Make working/ and input/ and copy each item to its DEST, read-only (the user's files are never
    handed to the script: a script that writes over its input cannot change them). Returns working/."""
    workspace = pathlib.Path(workspace)
    working = workspace / "working"
    working.mkdir(parents=True, exist_ok=True)
    (workspace / "input").mkdir(exist_ok=True)
    for item in items:
        for entry in item.files:
            source = item.source if entry["path"] == "." else item.source / entry["path"]
            target = working / entry["dest"]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            if sha256_file(target) != entry["sha256"]:
                raise UsageError(f"--data {item.source}: the file changed while it was copied: run again")
            target.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    return working


def outputs(workspace, items, exclude=()):
    """What the script wrote in working/: [{path, bytes, sha256}], without the inputs laid out there and
    the `exclude` paths (relative to working/, e.g. the script's own copy)."""
    working = pathlib.Path(workspace) / "working"
    inputs = {posixpath.normpath(entry["dest"]) for item in items for entry in item.files} | set(exclude)
    found = []
    for path in sorted(p for p in working.rglob("*") if p.is_file()):
        relative = path.relative_to(working).as_posix()
        if relative in inputs or any(part in IGNORED for part in path.relative_to(working).parts):
            continue
        found.append({"path": relative, "bytes": path.stat().st_size, "sha256": sha256_file(path)})
    return found
