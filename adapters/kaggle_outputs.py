"""Checks on the files the kaggle SDK downloads from a kernel's signed output URLs. The SDK saves
whatever a URL answers, without looking at the HTTP status: an expired URL's XML error becomes
`model.h5`. Each file is checked for what it must be before anything is kept."""

import json
import re

from adapters.base import PlatformError

MAGIC = {"model.h5": (b"\x89HDF\r\n\x1a\n", "an HDF5 file"), "model.keras": (b"PK\x03\x04", "a Keras zip archive")}


def storage_error(data):
    """The cloud storage service's error (code: what it says) when `data` is its XML error body, else None."""
    if not data.lstrip().startswith(b"<?xml") or b"<Error>" not in data[:4096]:
        return None
    text = data[:4096].decode("utf-8", "replace")
    fields = {name: re.search(f"<{name}>(.*?)</{name}>", text, re.S) for name in ("Code", "Message", "Details")}
    said = [match.group(1).strip() for match in fields.values() if match]
    return ": ".join(said) or "an error page"


def problem(name, data):
    """What is wrong with the downloaded file `name`, or None when it is what it should be."""
    if not data:
        return f"{name} is empty"
    error = storage_error(data)
    if error:
        return f"{name}: the signed URL answered with an error instead of the file ({error[:300]})"
    if name == "results.json":
        try:
            if isinstance(json.loads(data), dict):
                return None
        except ValueError:
            pass
        return f"results.json is not a JSON results file ({len(data):,} bytes starting {data[:40]!r})"
    magic, kind = MAGIC.get(name, (b"", ""))
    if not data.startswith(magic):
        return f"{name} is not {kind} ({len(data):,} bytes starting {data[:16]!r})"
    return None


def check_downloads(folder, names):
    """Raise one PlatformError naming every downloaded file of `names` in `folder` that is not what it
    must be; nothing is kept then (the caller's folder is temporary)."""
    problems = [p for p in (problem(name, (folder / name).read_bytes()) for name in names if (folder / name).is_file()) if p]
    if problems:
        raise PlatformError("Kaggle output download: " + "; ".join(problems) + ". Nothing was kept: pull again "
                            "(each pull asks Kaggle for fresh signed URLs)")
