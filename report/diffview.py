"""A platform's code diff as a reader follows it: the changed lines cut into blocks, each of one group
(data access, result upload, environment/setup, manifest files) with two unchanged lines around it;
in HTML each group folds (<details>) under a summary with its count and functions, long lines wrap;
in Markdown each group is a summary line and a `diff` block; on a terminal (`portability diff`) each
group is a header line and its blocks."""

import difflib
import html

CONTEXT = 2  # unchanged lines shown around a block


def line_diff(before, after):
    """[(sign, line)] of two texts' lines: " " kept, "-" dropped, "+" added."""
    signs = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
        if tag == "equal":
            signs += [(" ", line) for line in before[i1:i2]]
            continue
        signs += [("-", line) for line in before[i1:i2]] + [("+", line) for line in after[j1:j2]]
    return signs


def numbered(items):
    """The items with the line number each has in its file: the new file's, or the old one's when dropped."""
    old = new = 0
    for sign, text, group, owner, counted in items:
        old, new = old + (sign != "+"), new + (sign != "-")
        yield sign, text, group, owner, counted, (old if sign == "-" else new)


def blocks(file_name, items):
    """Runs of changed lines of one group in one file, CONTEXT unchanged lines around each; two runs of
    a group with at most 2 * CONTEXT unchanged lines between them are one block."""
    lines, runs = list(numbered(items)), []
    for index, line in enumerate(lines):
        if line[0] == " ":
            continue
        last = runs[-1] if runs else None
        between = lines[last[2] + 1:index] if last else []
        if last and last[0] == line[2] and all(b[0] == " " for b in between) and len(between) <= 2 * CONTEXT:
            last[2] = index
        else:
            runs.append([line[2], index, index])
    return [_block(file_name, lines, group, first, last) for group, first, last in runs]


def _block(file_name, lines, group, first, last):
    start = first
    while start > 0 and first - start < CONTEXT and lines[start - 1][0] == " ":
        start -= 1
    end = last
    while end + 1 < len(lines) and end - last < CONTEXT and lines[end + 1][0] == " ":
        end += 1
    shown = lines[start:end + 1]
    functions = list(dict.fromkeys(line[3][0] for line in shown if line[3]))
    kept = [line[5] for line in shown if line[0] != "-"] or [shown[0][5]]
    return {"group": group, "file": file_name, "functions": functions, "changed": sum(1 for l in shown if l[4]),
            "where": f"{file_name}, lines {kept[0]}-{kept[-1]}" + (f" · {', '.join(functions)}" if functions else ""),
            "lines": [(line[0], line[1]) for line in shown]}


def by_group(diff, groups):
    """[(group, count, blocks, what the summary names)] for the groups with changed lines."""
    found = []
    for group in groups:
        mine = [block for block in diff["blocks"] if block["group"] == group]
        if not mine and not diff["counts"][group]:
            continue
        documented = {name: doc for name, (owner, doc) in diff["functions"].items() if owner == group}
        if group == "manifest files":
            documented = dict.fromkeys(diff["manifests"], "")
        found.append((group, diff["counts"][group], mine, documented))
    return found


CLASSES = {"+": "add", "-": "del", " ": "ctx"}


def html_view(diff, groups, why):
    """The diff as HTML: one folded <details> per group, its summary the count, functions and why."""
    parts = []
    for group, count, mine, names in by_group(diff, groups):
        summary = (f"<summary><b>{html.escape(group)}</b>: {count} changed line{'s' * (count != 1)}"
                   + (f" in <code>{'</code>, <code>'.join(map(html.escape, names))}</code>" if names else "")
                   + f" <span class=\"why\">({html.escape(why[group])})</span></summary>")
        docs = "".join(f"<li><code>{html.escape(name)}</code>: {html.escape(doc)}</li>" for name, doc in names.items() if doc)
        body = (f'<ul class="functions">{docs}</ul>' if docs else "") + "".join(
            f'<div class="block"><div class="where">{html.escape(block["where"])}</div>'
            + "".join(f'<div class="line {CLASSES[sign]}">{html.escape(sign + " " + text)}</div>'
                      for sign, text in block["lines"]) + "</div>" for block in mine)
        parts.append(f'<details class="group" data-group="{html.escape(group)}">{summary}{body}</details>')
    return "\n".join(parts)


def markdown_view(diff, groups, why):
    """The diff as Markdown lines: per group a summary line and its blocks in one `diff` fence."""
    lines = []
    for group, count, mine, names in by_group(diff, groups):
        lines.append(f"**{group}**: {count} changed line{'s' * (count != 1)}"
                     + (f" in {', '.join(f'`{name}`' for name in names)}" if names else "") + f" ({why[group]})")
        lines.append("")
        lines += [f"- `{name}`: {doc}" for name, doc in names.items() if doc] + ([""] if any(names.values()) else [])
        if mine:
            body = [line for block in mine for line in
                    [f"@@ {block['where']} @@"] + [f"{sign}{text}" for sign, text in block["lines"]]]
            fence = "`" * max(3, 1 + max(_backticks(line) for line in body))
            lines += [fence + "diff", *body, fence, ""]
    return lines


def text_view(diff, groups, why):
    """The diff as terminal lines: per group a `== group: N changed lines in f, g (why)` header, what
    each named function is for, then its blocks, each under `@@ file, lines a-b · functions @@`."""
    lines = []
    for group, count, mine, names in by_group(diff, groups):
        lines.append(f"== {group}: {count} changed line{'s' * (count != 1)}"
                     + (f" in {', '.join(names)}" if names else "") + f" ({why[group]})")
        lines += [f"   {name}: {doc}" for name, doc in names.items() if doc]
        for block in mine:
            lines += ["", f"@@ {block['where']} @@", *(f"{sign}{text}" for sign, text in block["lines"])]
        lines.append("")
    return lines


def _backticks(line):
    """The longest run of backticks in a line (a fence must be longer)."""
    longest = run = 0
    for character in line:
        run = run + 1 if character == "`" else 0
        longest = max(longest, run)
    return longest
