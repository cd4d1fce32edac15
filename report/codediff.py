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
    """Line number -> (name of the top-level def/class around it, its docstring's first line)."""
    owners = {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return owners
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            doc = (ast.get_docstring(node) or "").splitlines()
            for line in range(node.lineno - len(node.decorator_list), node.end_lineno + 1):
                owners[line] = (node.name, doc[0] if doc else "")
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
              "functions": {}, "manifests": {}, "files": {}}
    for file_name, text in code.items():
        before = local.get(file_name, "").splitlines()
        after = text.splitlines()
        result["files"][file_name] = (before, after)
        result["diff"] += difflib.unified_diff(before, after, f"platforms/local/{file_name}",
                                               f"platforms/{name}/{file_name}", lineterm="")
        _count(result, adapter, before, after, enclosing_names(text))
    _count_manifests(result, adapter, platforms_dir)
    return result


def _count(result, adapter, before, after, owners):
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "delete":
            result["counts"]["environment/setup"] += i2 - i1
        for number in range(j1 + 1, j2 + 1) if tag != "equal" else ():
            owner = owners.get(number)
            group = "environment/setup"
            if owner:
                group = HOOK_GROUPS.get(owner[0]) or adapter.helper_groups.get(owner[0], "environment/setup")
                result["functions"].setdefault(owner[0], (group, owner[1]))
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
        changed = sum(1 for line in difflib.ndiff(before, path.read_text().splitlines()) if line[:1] in "+-")
        if changed:
            result["manifests"][relative] = changed
            result["counts"]["manifest files"] += changed


def html_side_by_side(diff):
    """The changed code files of a platform_diff, side by side, as HTML tables."""
    tables = []
    for file_name, (before, after) in diff["files"].items():
        if before != after:
            tables.append(difflib.HtmlDiff(wrapcolumn=90).make_table(
                before, after, f"local {file_name}", f"{diff['platform']} {file_name}", context=True, numlines=2))
    return "\n".join(tables)
