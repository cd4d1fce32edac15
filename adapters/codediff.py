"""What code each platform needed beyond the local run: its generated entry against the local entry,
line by line, with every changed line put in a group (data access, result upload, environment/setup,
manifest files) by the shim function it belongs to."""

import ast
import difflib

from adapters.base import ROOT

PLATFORMS_DIR = ROOT / "platforms"
LOCAL_ENTRY = "experiment.py"
GROUPS = ("data access", "result upload", "environment/setup", "manifest files")
FUNCTION_GROUPS = {
    "data access": {"data_folder", "find_inputs", "read_csv_table", "load_task", "canonical_check", "subset"},
    "result upload": {"output_folder", "export_results", "run_details", "Tee", "upload", "combine_folds",
                      "flow_description", "run_task"},
}
WHY = {
    "data access": "where the platform's data is and how it is read and checked",
    "result upload": "where results go and how they reach the platform",
    "environment/setup": "imports, the SDK's start-up, callbacks, code the platform needs bundled",
    "manifest files": "files besides the code: what the platform reads, and helpers the push runs",
}


def enclosing_names(source):
    """Line number -> (name of the top-level def/class around it, its docstring); None outside."""
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


def group_of(name, line):
    if name is None:
        return "environment/setup"
    for group, names in FUNCTION_GROUPS.items():
        if name in names:
            return group
    return "environment/setup"


def platform_diff(name, platforms_dir=PLATFORMS_DIR):
    """The unified diff, per-group counts of changed lines, and the changed functions with their docs."""
    local = (platforms_dir / "local" / LOCAL_ENTRY).read_text().splitlines()
    folder = platforms_dir / name
    entry = (folder / LOCAL_ENTRY).read_text().splitlines()
    diff = list(difflib.unified_diff(local, entry, f"platforms/local/{LOCAL_ENTRY}", f"platforms/{name}/{LOCAL_ENTRY}",
                                     lineterm=""))
    owners = enclosing_names("\n".join(entry))
    counts = dict.fromkeys(GROUPS, 0)
    embedded = 0
    functions = {}
    matcher = difflib.SequenceMatcher(None, local, entry, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        for number in range(j1 + 1, j2 + 1):
            text = entry[number - 1]
            owner = owners.get(number)
            if owner is None and _inside_embedded_core(entry, number):
                embedded += 1
                continue
            group = group_of(owner[0] if owner else None, text)
            counts[group] += 1
            if owner:
                functions.setdefault(owner[0], (group, owner[1]))
        counts["environment/setup"] += max(0, (i2 - i1) - (j2 - j1)) if tag == "delete" else 0
    manifests = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != LOCAL_ENTRY):
        local_twin = platforms_dir / "local" / path.relative_to(folder)
        before = local_twin.read_text().splitlines() if local_twin.is_file() else []
        changed = sum(1 for line in difflib.ndiff(before, path.read_text().splitlines()) if line[:1] in "+-")
        if changed:
            manifests[str(path.relative_to(folder))] = changed
            counts["manifest files"] += changed
    return {"platform": name, "diff": diff, "counts": counts, "embedded_core_lines": embedded,
            "functions": functions, "manifests": manifests}


def _inside_embedded_core(lines, number):
    """Kaggle carries the core verbatim near the end of its single file; counted apart, not as changes."""
    marker = next((i for i, line in enumerate(lines) if line.startswith("# The core experiment, verbatim from core/")), None)
    if marker is None:
        return False
    end = next((i for i in range(marker, len(lines)) if lines[i] == "install_core()"), len(lines))
    return marker <= number - 1 < end


def html_side_by_side(name, platforms_dir=PLATFORMS_DIR):
    local = (platforms_dir / "local" / LOCAL_ENTRY).read_text().splitlines()
    entry = (platforms_dir / name / LOCAL_ENTRY).read_text().splitlines()
    if any(line.startswith("# The core experiment, verbatim from core/") for line in entry):
        cut = next(i for i, line in enumerate(entry) if line.startswith("# The core experiment, verbatim from core/"))
        entry = entry[:cut] + ["# ... the core experiment, embedded verbatim (see the counts) ..."]
    return difflib.HtmlDiff(wrapcolumn=90).make_table(local, entry, "local", name, context=True, numlines=2)
