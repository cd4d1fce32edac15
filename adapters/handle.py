"""A run's handle (handle.json): plain data, enough to ask for a run's status and results from another
process, another day. Adapters fill it (remote ids, details); the run store keeps it."""

import dataclasses
import json
import pathlib

from core import results as results_file
from core.errors import UserError


@dataclasses.dataclass
class Handle:
    """A run as plain data. `mode` says how its results are obtained: executed or emulated."""

    platform: str
    run_id: str
    bundle_hash: str
    mode: str = "executed"
    remote_id: str | None = None
    details: dict = dataclasses.field(default_factory=dict)

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text):
        return cls(**json.loads(text))


def read_handle(run_dir):
    path = pathlib.Path(run_dir) / "handle.json"
    try:
        values = json.loads(path.read_text())
    except ValueError as error:
        raise UserError(f"{path} is damaged ({type(error).__name__}): this run cannot be followed; "
                        "delete its folder if it is of no use") from None
    problem = _handle_problem(values)
    if problem:
        raise UserError(f"{path} is damaged ({problem}): this run cannot be followed; restore that key "
                        "or delete its folder if it is of no use")
    return Handle(**values)


def _handle_problem(values):
    """What keeps a handle.json's data from being a Handle, said by key; None when nothing does."""
    if not isinstance(values, dict):
        return "not a JSON object"
    fields = {field.name: field for field in dataclasses.fields(Handle)}
    required = [name for name, field in fields.items()
                if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING]
    missing, extra = [k for k in required if k not in values], sorted(map(str, set(values) - set(fields)))
    wrong = [k for k in ("platform", "run_id", "bundle_hash", "mode") if k in values and not isinstance(values[k], str)]
    wrong += ["details"] if not isinstance(values.get("details", {}), dict) else []
    return "; ".join(filter(None, [missing and f"missing key {', '.join(missing)}",
                                   extra and f"unexpected key {', '.join(extra)}",
                                   wrong and f"{', '.join(wrong)} of the wrong type"])) or None


def write_handle(run_dir, handle):
    results_file.write_json(pathlib.Path(run_dir) / "handle.json", json.loads(handle.to_json()))
