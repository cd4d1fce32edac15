"""The rooms and their one-way layers: portability -> report, adapters -> core. A newcomer's map of
the tree stays true: no package imports one above it, no second command line, modules stay small."""

import ast
import subprocess
import sys

import pytest

from tests.conftest import ROOT

ALLOWED = {"core": {"core"}, "adapters": {"adapters", "core"}, "report": {"report", "adapters", "core"},
           "portability": {"portability", "report", "adapters", "core"}}


def imported_packages(path):
    """The project packages a module imports (absolute imports, anywhere in the module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
            [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
        found |= {name.split(".")[0] for name in names if name.split(".")[0] in ALLOWED}
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_the_layers_below_it(package):
    for path in sorted((ROOT / package).rglob("*.py")):
        wrong = imported_packages(path) - ALLOWED[package]
        assert not wrong, f"{path.relative_to(ROOT)} imports {', '.join(sorted(wrong))}: layers point one way"


def test_one_command_line():
    assert not (ROOT / "core" / "cli.py").exists() and not (ROOT / "adapters" / "cli.py").exists()
    done = subprocess.run([sys.executable, "-m", "core.cli", "run"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode != 0 and "No module named core.cli" in done.stderr


def test_modules_and_functions_stay_small():
    for package in ALLOWED:
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text()
            assert len(text.splitlines()) <= 340, f"{path.relative_to(ROOT)}: {len(text.splitlines())} lines"
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    length = node.end_lineno - node.lineno + 1
                    assert length <= 45, f"{path.relative_to(ROOT)}:{node.lineno} {node.name} has {length} lines"


def test_no_platform_is_named_outside_its_room():
    """Outside adapters/, tests/, docs/ and platforms/, a platform's name appears only in text for the
    user (docstrings, comments, help): never as code that branches on a platform."""
    names = ("kaggle", "docker", "codalab", "openml", "comet", "beat")
    for package in ("core", "portability", "report"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.lower() in names:
                    raise AssertionError(f"{path.relative_to(ROOT)}:{node.lineno} names the platform {node.value!r}")
