"""A researcher's own experiment, compared across platforms as code: `portability diff PLATFORM --script
train.py` (the user's file unchanged, what the platform needed around it) and `portability docs --script
train.py --out DIR` (a porting guide per platform, for colleagues).

Both package the script for local and for the platform into a temporary folder (offline, nothing sent)
and diff them with report/codediff.py, as the built-in experiment's platforms/ folders are.
"""

import contextlib
import hashlib
import pathlib
import shlex
import tempfile

import adapters
from adapters import bundle
from report import codediff


def rendered(name, experiment, folder):
    """The generated files of `name`'s bundle for the experiment, written under folder/name."""
    adapter = adapters.get(name)
    adapter.for_repository = True  # no user's name or path in what is compared
    files = adapter.render(experiment)
    bundle.write(pathlib.Path(folder) / name, files)
    return adapter, files


def script_copies(adapter, files, experiment):
    """The user's file as it travels in the platform's bundle (from inside the single file, if one)."""
    name = f"script/{experiment.path.name}"
    if adapter.single_file:
        inner, _ = bundle.unpack_single_file(files[adapter.entry_path()])
        return inner.get(name)
    return files.get(str(pathlib.PurePosixPath(adapter.code_dir, name)))


@contextlib.contextmanager
def script_diff(name, experiment):
    """(the platform_diff of `name` against local for the script, whether the script travels unchanged)."""
    with tempfile.TemporaryDirectory() as folder:
        rendered("local", experiment, folder)
        adapter, files = rendered(name, experiment, folder)
        unchanged = script_copies(adapter, files, experiment) == experiment.path.read_text()
        yield codediff.platform_diff(name, folder), unchanged


def summary(name, experiment, diff, unchanged):
    """Lines saying that the user's code is unchanged and what the platform needed around it, grouped."""
    digest = hashlib.sha256(experiment.path.read_bytes()).hexdigest()
    lines = [f"your code: {experiment.path.name} (sha256 {digest[:12]}) "
             + ("travels unchanged: byte-identical in the local and the " + name + " bundle"
                if unchanged else "DIFFERS in the bundle: report this as a bug"),
             f"what {name} needed around it (the entry, the shim, manifests):"]
    for group in codediff.GROUPS:
        names = [f"{function}" for function, (owner, _) in diff["functions"].items() if owner == group]
        if group == "manifest files":
            names = [f"{path} ({count} lines)" for path, count in diff["manifests"].items()]
        lines.append(f"  {group}: {diff['counts'][group]} lines" + (f" ({', '.join(names)})" if names else ""))
    return lines


def commands(name, experiment):
    """How to run the experiment on the platform, as the user typed it."""
    spec = experiment.spec
    data = " ".join(f"--data {shlex.quote(item)}" for item in spec.data)
    args = (" -- " + " ".join(map(shlex.quote, spec.args))) if spec.args else ""
    common = f"--script {shlex.quote(str(experiment.path))} {data}".strip() + args
    if name == "local":
        return [f"portability run {common}"]
    return [f"portability emulate {name} {common}   # here, in an emulation of {name}'s runtime",
            f"portability push {name} --wait {common}   # on {name}"]


def delivery(name):
    """How the platform delivers the --data items (said by the adapter's script side)."""
    from adapters import own_platforms

    return own_platforms.of(adapters.get(name)).delivery


def guide(name, experiment):
    """The porting guide's page for one platform, as Markdown."""
    lines = [f"# {experiment.path.name} on {name}", "", "## How to run it", "", "```bash", *commands(name, experiment),
             "```", "", "## The data", "", delivery(name) + ".", ""]
    if name == "local":
        return "\n".join(lines + ["The local run is the baseline: nothing changes.", ""])
    with script_diff(name, experiment) as (diff, unchanged):
        lines += ["## What the platform changed", "", *summary(name, experiment, diff, unchanged), "",
                  "Functions of the platform's shim and entry, and why:", ""]
        lines += [f"- `{function}` ({group}){': ' + doc if doc else ''}" for function, (group, doc) in diff["functions"].items()]
    return "\n".join(lines) + "\n"


def write_guides(experiment, out, platforms):
    """DIR/README.md (an index) and DIR/<platform>.md for each platform that takes the script."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in platforms:
        (out / f"{name}.md").write_text(guide(name, experiment))
        written.append(out / f"{name}.md")
    index = [f"# Porting {experiment.path.name}", "", f"The same file, unchanged, on {len(platforms)} platforms:", ""]
    index += [f"- [{name}]({name}.md)" for name in platforms]
    (out / "README.md").write_text("\n".join(index) + "\n")
    return [out / "README.md", *written]
