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
        return Handle.from_json(path.read_text())
    except (ValueError, TypeError) as error:
        raise UserError(f"{path} is damaged ({type(error).__name__}): this run cannot be followed; "
                        "delete its folder if it is of no use") from None


def write_handle(run_dir, handle):
    results_file.write_json(pathlib.Path(run_dir) / "handle.json", json.loads(handle.to_json()))
