"""The code diff a reader can follow: changed lines in blocks of one group each, folded by group under
a summary with its count (HTML <details>, Markdown a summary line and a diff fence), long lines left
to wrap, and a user's own script called out as unchanged when every platform ran the same file."""

import re

from markdown_it import MarkdownIt

from report import codediff, diffview

PLATFORMS = ("docker", "kaggle", "codalab", "comet", "openml", "beat")


def test_every_changed_line_is_in_one_block_of_its_group_and_the_counts_are_the_blocks():
    for name in PLATFORMS:
        diff = codediff.platform_diff(name)
        shown = {group: 0 for group in codediff.GROUPS}
        for block in diff["blocks"]:
            shown[block["group"]] += block["changed"]
            assert any(sign != " " for sign, _ in block["lines"]) and block["where"].startswith(block["file"])
        assert shown == diff["counts"], name
        changed = sum(1 for file_name, (before, after) in diff["files"].items()
                      for sign, _ in diffview.line_diff(before, after) if sign != " ")
        code_blocks = [b for b in diff["blocks"] if b["file"] in diff["files"]]
        assert sum(1 for b in code_blocks for sign, _ in b["lines"] if sign != " ") == changed, name


def test_a_block_keeps_to_one_group_and_names_its_functions():
    kaggle = codediff.platform_diff("kaggle")
    data = [block for block in kaggle["blocks"] if block["group"] == "data access"]
    assert {"data_folder", "read_csv_table", "script_inputs"} <= {f for block in data for f in block["functions"]}
    upload = [block for block in kaggle["blocks"] if block["group"] == "result upload"]
    assert all(not {"data_folder", "read_csv_table"} & set(block["functions"]) for block in upload)
    assert [block["where"] for block in data][0].startswith("shim.py, lines ")


def test_html_folds_each_group_under_its_count_and_lets_long_lines_wrap():
    diff = codediff.platform_diff("kaggle")
    page = diffview.html_view(diff, codediff.GROUPS, codediff.WHY)
    summaries = re.findall(r"<summary><b>([^<]+)</b>: (\d+) changed lines", page)
    assert summaries == [(group, str(diff["counts"][group])) for group in codediff.GROUPS if diff["counts"][group]]
    assert page.count("<details") == len(summaries) and "<table" not in page  # no side-by-side table to overflow
    assert page.count('class="line add"') + page.count('class="line del"') == sum(
        1 for block in diff["blocks"] for sign, _ in block["lines"] if sign != " ")
    template = (codediff.ROOT / "report" / "templates" / "report.html.j2").read_text()
    assert re.search(r"\.line\{[^}]*white-space:pre-wrap[^}]*overflow-wrap:anywhere", template)


def test_markdown_gives_a_summary_line_and_a_diff_fence_per_group():
    diff = codediff.platform_diff("docker")
    text = "\n".join(diffview.markdown_view(diff, codediff.GROUPS, codediff.WHY))
    assert "**data access**: 5 changed lines in `data_folder`, `script_inputs`" in text
    assert "**manifest files**: 25 changed lines in `Dockerfile`" in text
    fences = [t for t in MarkdownIt("commonmark").parse(text) if t.type == "fence"]
    assert [t.info for t in fences] == ["diff"] * 4
    assert fences[0].content.startswith("@@ shim.py, lines ") and "data_folder" in fences[0].content.splitlines()[0]


def test_blank_lines_between_functions_are_shown_with_their_block_but_not_counted():
    class Adapter:
        helper_groups = {"read_it": "data access"}

    after = ["def read_it():", "    return 1", "", "", "def data_folder(settings):", "    return None"]
    items = codediff.classify(Adapter(), [], after, codediff.enclosing_names("\n".join(after)))
    assert [(sign, group, counted) for sign, _, group, _, counted in items] == [
        ("+", "data access", True), ("+", "data access", True), ("+", "data access", False),
        ("+", "data access", False), ("+", "data access", True), ("+", "data access", True)]
    blocks = diffview.blocks("shim.py", items)
    assert len(blocks) == 1 and blocks[0]["changed"] == 4 and blocks[0]["functions"] == ["read_it", "data_folder"]


def test_a_fence_is_longer_than_any_backticks_in_the_code():
    diff = {"blocks": [{"group": "data access", "file": "shim.py", "where": "shim.py, lines 1-1", "changed": 1,
                        "functions": [], "lines": [("+", 'text = "```python"')]}],
            "counts": dict.fromkeys(codediff.GROUPS, 0) | {"data access": 1}, "functions": {}, "manifests": {}}
    lines = diffview.markdown_view(diff, codediff.GROUPS, codediff.WHY)
    assert "````diff" in lines and lines.count("````") == 1


def script_row(platform, digest):
    return {"platform": platform, "results": {"config": {"script": "train.py", "script_sha256": digest}}}


def test_the_users_own_script_is_called_out_as_unchanged_when_it_is():
    same = codediff.own_code([script_row("local", "a" * 64), script_row("kaggle", "a" * 64),
                              {"platform": "codalab", "results": None}])
    assert same == [f"Your code: train.py (sha256 {'a' * 12}) ran unchanged, byte for byte, on local, kaggle."]
    other = codediff.own_code([script_row("local", "a" * 64), script_row("comet", "b" * 64)])
    assert other[1] == "Another version of train.py ran on comet: their rows compare other code."
    assert codediff.own_code([{"platform": "local", "results": {"config": {"model": "reference"}}}]) == []
