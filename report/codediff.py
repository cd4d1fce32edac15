"""What code each platform needed beyond the local run: its generated code files (the entry and its
shim, and for a single-file platform the loader) against the local ones, line by line, with every
changed line put in a group (data access, result upload, environment/setup, manifest files) by the
function it belongs to. The adapter says which files are code and which lines are the core carried
verbatim (`Adapter.code_files`); the hooks' groups are known here, a shim's helpers' come from the
adapter (`Adapter.helper_groups`)."""

import ast
import difflib
import pathlib

import adapters
from adapters.bundle import ROOT
from report import diffview

PLATFORMS_DIR = ROOT / "platforms"
GROUPS = ("data access", "result upload", "environment/setup", "manifest files")
HOOK_GROUPS = {"prepare_config": "data access", "data_folder": "data access", "output_folder": "result upload",
               "run_details": "result upload", "export_results": "result upload", "run_experiment": "result upload",
               "training_callbacks": "environment/setup", "script_inputs": "data access", "loader_data": "data access",
               "before_script": "environment/setup", "after_script": "result upload"}
WHY = {
    "data access": "where the platform's data is and how it is read and checked",
    "result upload": "where results go and how they reach the platform",
    "environment/setup": "imports, the SDK's start-up, callbacks, code the platform needs bundled",
    "manifest files": "files besides the code: what the platform reads, and helpers the push runs",
}


def enclosing_names(source):
    """Line number -> (name of the top-level def/class around it, its docstring's first paragraph)."""
    owners = {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return owners
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            doc = " ".join((ast.get_docstring(node) or "").split("\n\n")[0].split())  # its first paragraph
            for line in range(node.lineno - len(node.decorator_list), node.end_lineno + 1):
                owners[line] = (node.name, doc)
    return owners


def generated(name, platforms_dir=PLATFORMS_DIR):
    return (pathlib.Path(platforms_dir) / name).is_dir()


def platform_diff(name, platforms_dir=PLATFORMS_DIR):
    """The unified diff, per-group counts of changed lines, and the changed functions with their docs."""
    platforms_dir = pathlib.Path(platforms_dir)
    adapter = adapters.get(name)
    local, _ = adapters.get("local").code_files(platforms_dir / "local")
    code, embedded = adapter.code_files(platforms_dir / name)
    result = {"platform": name, "diff": [], "counts": dict.fromkeys(GROUPS, 0), "embedded_core_lines": embedded,
              "functions": {}, "manifests": {}, "files": {}, "blocks": []}
    for file_name, text in code.items():
        before = local.get(file_name, "").splitlines()
        after = text.splitlines()
        result["files"][file_name] = (before, after)
        result["diff"] += difflib.unified_diff(before, after, f"platforms/local/{file_name}",
                                               f"platforms/{name}/{file_name}", lineterm="")
        items = classify(adapter, before, after, enclosing_names(text))
        _count(result, items)
        result["blocks"] += diffview.blocks(file_name, items)
    _count_manifests(result, adapter, platforms_dir)
    return result


def classify(adapter, before, after, owners):
    """Every line of one file's diff as (sign, text, group, function, counted): unchanged lines " ",
    added "+" (in the group of the function around it), dropped "-" (a replaced line goes with its new
    text's group and counts once, as the new text). Blank lines between functions go with the line
    before them and are not counted: they change nothing."""
    items = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
        if tag == "equal":
            items += [(" ", line, None, None, False) for line in before[i1:i2]]
            continue
        added = []
        for number in range(j1 + 1, j2 + 1):
            owner, text = owners.get(number), after[number - 1]
            if owner:
                group = HOOK_GROUPS.get(owner[0]) or adapter.helper_groups.get(owner[0], "environment/setup")
                added.append(("+", text, group, owner, True))
            elif not text.strip():
                added.append(("+", text, added[-1][2] if added else "environment/setup", None, False))
            else:
                added.append(("+", text, "environment/setup", None, True))
        first = added[0][2] if added else "environment/setup"
        items += [("-", line, first, None, tag == "delete") for line in before[i1:i2]] + added
    return items


def _count(result, items):
    for sign, _, group, owner, counted in items:
        if owner:
            result["functions"].setdefault(owner[0], (group, owner[1]))
        if counted:
            result["counts"][group] += 1


def _count_manifests(result, adapter, platforms_dir):
    folder = platforms_dir / result["platform"]
    code_paths = adapter.code_paths(folder)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = str(path.relative_to(folder))
        if relative in code_paths:
            continue
        prefix = f"{adapter.code_dir}/" if adapter.code_dir else ""
        twin = platforms_dir / "local" / relative.removeprefix(prefix)
        before = twin.read_text().splitlines() if twin.is_file() else []
        items = [(sign, text, "manifest files", None, sign != " ")
                 for sign, text in diffview.line_diff(before, path.read_text().splitlines())]
        changed = sum(1 for item in items if item[4])
        if changed:
            result["blocks"] += diffview.blocks(relative, items)
            result["manifests"][relative] = changed
            result["counts"]["manifest files"] += changed


def unchanged_files(diff):
    """The code files a platform carries as local has them, e.g. the experiment: (name, lines)."""
    return [(name, len(after)) for name, (before, after) in diff["files"].items() if before == after]


def own_code(rows):
    """Lines calling out a user's own script: the same file (by SHA-256) on every platform, or not."""
    ran = [row for row in rows if row["results"] and row["results"]["config"].get("script_sha256")]
    local = next((row for row in ran if row["platform"] == "local"), ran[0] if ran else None)
    if local is None:
        return []
    own = local["results"]["config"]
    digest = own.get("script_sha256") or ""
    same = [row["platform"] for row in ran if row["results"]["config"].get("script_sha256") == digest]
    other = [row["platform"] for row in ran if row["platform"] not in same]
    lines = [f"Your code: {own.get('script')} (sha256 {digest[:12]}) ran unchanged, byte for byte, on {', '.join(same)}."]
    if other:
        lines.append(f"Another version of {own.get('script')} ran on {', '.join(other)}: their rows compare other code.")
    return lines
