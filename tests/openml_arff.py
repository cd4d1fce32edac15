"""What OpenML's server checks of an uploaded ARFF file (openml_OS/helpers/arff_helper.php,
ARFFcheck(file, 1000) at run upload): the header, then the first 1,000 data lines. Returns None
when the file passes, else the server's kind of message ("... (l.N)")."""

import csv
import re

ATTRIBUTE = re.compile(r"@attribute\s+('[^']*'|\"[^\"]*\"|\S+)\s+(.+)$", re.I)
TYPES = ("numeric", "real", "integer", "string", "date")


def check(text, lines=1000):
    attributes, rows, in_data = [], 0, False
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("%"):
            continue
        if not in_data:
            problem = _header_line(line, attributes)
            if problem:
                return f"{problem} (l.{number})"
            in_data = line.lower() == "@data"
            continue
        rows += 1
        if rows > lines:
            break
        problem = _data_line(line, attributes)
        if problem:
            return f"{problem} (l.{number})"
    if not in_data:
        return "no @data section"
    return None


def _header_line(line, attributes):
    keyword = line.split(None, 1)[0].lower()
    if keyword == "@data":
        return "trailing content in @data line" if line.lower() != "@data" else None
    if keyword == "@relation":
        return None if len(line.split(None, 1)) == 2 else "missing relation name"
    if keyword != "@attribute":
        return f"unknown header keyword {keyword}"
    match = ATTRIBUTE.match(line)
    if not match:
        return "malformed @attribute line"
    kind = match.group(2).strip()
    if kind.startswith("{"):
        if not kind.endswith("}"):
            return "unterminated nominal value list"
        attributes.append({v.strip().strip("'\"") for v in next(csv.reader([kind[1:-1]], skipinitialspace=True))})
    elif kind.split()[0].lower() in TYPES:
        attributes.append(kind.split()[0].lower())
    else:
        return f"unknown attribute type {kind}"
    return None


def _data_line(line, attributes):
    values = next(csv.reader([line], quotechar="'", skipinitialspace=True))
    if len(values) != len(attributes):
        return f"{len(values)} values where the header declares {len(attributes)} attributes"
    for value, kind in zip(values, attributes):
        if value == "?":
            continue
        if isinstance(kind, set) and value not in kind:
            return f"nominal value {value!r} not declared"
        if kind in ("numeric", "real", "integer"):
            try:
                float(value)
            except ValueError:
                return f"{value!r} is not numeric"
    return None
