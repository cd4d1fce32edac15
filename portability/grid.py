"""Grid files: replicates and sweeps as data. A grid names a base config, axes over any config key,
and the platforms; its cells are every combination. Shipped grids are in docs/grids/.

    name: seeds
    base: {preset: mnist-reference}
    axes: {seed: [1, 2, 3, 4, 5]}
    platforms: ready            # every ready platform; or a list such as [local, docker]
    margin: 0.003               # equivalence margin of the verdict (0.003 = 0.3 points)
    platform_options: {openml: {task: 3573}}   # each platform's own options, as in a config file
    quick: {base: {max_train_samples: 6000}}   # what --quick changes, for a laptop
"""

import dataclasses
import hashlib
import itertools
import json
import math
import pathlib

import adapters
import core.config
from core.errors import UsageError
from portability import own_sweep
from portability.arguments import checked_options

GRIDS_DIR = pathlib.Path(__file__).resolve().parents[1] / "docs" / "grids"
KEYS = ("name", "description", "base", "axes", "platforms", "margin", "platform_options", "quick")
DEFAULT_MARGIN = 0.003
MAX_CELLS = 10000  # planning, the manifest and the verdict stay interactive; a bigger study is several grids


@dataclasses.dataclass
class Cell:
    """One run of a sweep: a platform, a complete config, and the platform's own options."""

    platform: str
    config: dict
    axes: dict
    threads: int | None = None
    options: dict = dataclasses.field(default_factory=dict)

    @property
    def id(self):
        """Same platform, config, threads and platform options: the same cell, in any sweep."""
        key = {"platform": self.platform, "config": self.config, "threads": self.threads}
        if self.options:
            key["options"] = self.options
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]

    @property
    def label(self):
        return ", ".join(f"{k}={v}" for k, v in self.axes.items())

    def to_dict(self):
        return {"id": self.id, "platform": self.platform, "config": self.config, "axes": self.axes,
                "threads": self.threads, **({"options": self.options} if self.options else {})}


@dataclasses.dataclass
class Grid:
    name: str
    base: dict
    axes: dict
    platforms: list
    margin: float = DEFAULT_MARGIN
    description: str = ""
    platform_options: dict = dataclasses.field(default_factory=dict)

    def points(self):
        """Every combination of the axes, as {axis: value}, with its complete config."""
        names = list(self.axes)
        for values in itertools.product(*(self.axes[name] for name in names)):
            point = dict(zip(names, values))
            if own_sweep.is_script(self.base):  # a user's own script: its files checked and hashed
                yield point, own_sweep.Point({**self.base, **point})
                continue
            yield point, core.config.config_from_dict({**self.base, **point})

    def cells(self, threads=None):
        """Every combination of the axes on every platform; TF threads fixed for the cells computed here.
        `ready` platforms must have been resolved (`resolve_ready`) first."""
        if self.platforms == "ready":
            raise ValueError("the grid's ready platforms are not resolved yet: call resolve_ready() first")
        cells = []
        for platform in self.platforms:
            for point, config in self.points():
                cells.append(Cell(platform, _absolute(config.to_dict()), point,
                                  threads if computes_here(platform) else None, self.platform_options.get(platform, {})))
        return cells

    def resolve_ready(self, ready):
        """`platforms: ready` becomes the platforms that `ready(name)` says can run now (local if none)."""
        if self.platforms == "ready":
            self.platforms = [name for name in adapters.names() if ready(name)] or ["local"]
        return self.platforms


def computes_here(platform):
    """Cells that train on this machine's (or the Dask cluster's) cores, not on a platform's."""
    return adapters.adapter_class(platform).computes_here


def _absolute(values):
    """A user's data set by absolute path: a worker may start elsewhere."""
    if "dataset" in values and values["dataset"] not in core.config.BUILTIN_DATASETS:
        values["dataset"] = str(pathlib.Path(values["dataset"]).resolve())
    return values


def find(reference):
    """A grid file's path, or the name of a shipped grid (`seeds`, `vgg-augmentation`)."""
    path = pathlib.Path(reference)
    if path.is_file():
        return path
    shipped = GRIDS_DIR / f"{reference}.yaml"
    if shipped.is_file() and "/" not in reference:
        return shipped
    names = ", ".join(sorted(p.stem for p in GRIDS_DIR.glob("*.yaml")))
    raise UsageError(f"no grid file {reference!r}: give the path of a grid file or a shipped grid ({names})")


def load(reference, quick=False, platforms=None):
    """The grid in a file (or a shipped grid's name), validated; `platforms` replaces the file's list."""
    path = find(reference)
    if path.suffix not in (".yaml", ".yml", ".json"):
        raise UsageError(f"grid file {path} must end in .yaml, .yml or .json")
    values = core.config.read_config_file(path)
    if not values:
        raise UsageError(f"grid {path} is empty: a grid names a base config, axes and platforms "
                         f"(see {GRIDS_DIR / 'seeds.yaml'})")
    unknown = sorted(set(values) - set(KEYS))
    if unknown:
        raise UsageError(f"grid {path}: unknown keys {', '.join(unknown)}: valid keys are {', '.join(KEYS)}")
    if quick:
        if not isinstance(values.get("quick"), dict):
            raise UsageError(f"grid {path} has no `quick` section: run it without --quick")
        for part in ("base", "axes"):
            values[part] = {**_mapping(values, part, path), **_mapping(values["quick"], part, path)}
    return make(values.get("name") or path.stem, _mapping(values, "base", path), _mapping(values, "axes", path),
                platforms or values.get("platforms", ["local"]), values.get("margin", DEFAULT_MARGIN),
                str(values.get("description", "")), where=f"grid {path}", platform_options=values.get("platform_options"))


def _mapping(values, key, path):
    part = values.get(key) or {}
    if not isinstance(part, dict):
        raise UsageError(f"grid {path}: `{key}` must be a mapping of config key: value")
    return part


def make(name, base, axes, platforms, margin=DEFAULT_MARGIN, description="", where="grid", platform_options=None):
    """A validated Grid: axes over known config keys with lists of values, known or ready platforms."""
    script = own_sweep.is_script(base)  # a user's own script: a script's keys are its axes
    if script:
        own_sweep.check_axes(axes, where)
    for key, values in axes.items():
        if not script and (key not in core.config.FIELDS or key == "preset"):
            raise UsageError(f"{where}: axis {key!r} is not a config key: valid keys are "
                             f"{', '.join(k for k in core.config.FIELDS if k != 'preset')}")
        if not isinstance(values, list) or not values or len(set(map(json.dumps, values))) != len(values):
            raise UsageError(f"{where}: axis {key!r} needs a list of distinct values, got {values!r}")
        _distinct_as_config(key, values, where)
    check_margin(margin, where)
    for key, value in base.items():
        if value is None and key in core.config.FIELDS:  # a config drops None as "not given": say it here
            core.config.cast_value(key, value)
    if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
        raise UsageError(f"{where}: name {name!r} must be letters, digits, - and _")
    if not base and not axes:
        raise UsageError(f"{where} names no experiment: give a `base` config and `axes` to vary "
                         f"(see {GRIDS_DIR / 'seeds.yaml'})")
    platforms = resolve_platforms(platforms, where)
    count = math.prod(len(values) for values in axes.values()) * (1 if platforms == "ready" else len(platforms))
    if count > MAX_CELLS:
        raise UsageError(f"{where} has {count:,} cells, more than {MAX_CELLS:,}: split it into smaller grids "
                         "(each is resumable, and the report shows every sweep)")
    options = checked_options(platform_options, where)
    grid = Grid(name, dict(base), dict(axes), platforms, float(margin), description, options)
    for _ in grid.points():  # every combination must be a valid config: fail before anything runs
        pass
    return grid


def _distinct_as_config(key, values, where):
    """`seed: [1, 1.0]` is one seed twice: values are compared as the config will hold them."""
    seen = {}
    for value in values:
        try:
            cast = json.dumps(core.config.cast_value(key, value))
        except UsageError:
            continue  # the config check of every combination names the bad value
        if cast in seen:
            raise UsageError(f"{where}: axis {key!r} gives {seen[cast]!r} and {value!r}, the same {key} twice: "
                             "keep one of them")
        seen[cast] = value


def check_margin(margin, where="grid"):
    """The equivalence margin: a finite fraction of accuracy in (0, 1)."""
    if not isinstance(margin, (int, float)) or isinstance(margin, bool) or not 0 < margin < 1:
        raise UsageError(f"{where}: margin is a fraction of accuracy in (0, 1) (0.003 = 0.3 points), got {margin!r}")
    return float(margin)


def resolve_platforms(platforms, where="grid"):
    """`ready` (resolved when the sweep runs: parsing asks no platform); `all`; or a list of names."""
    if platforms == "ready":
        return "ready"
    if platforms == "all":
        return adapters.names()
    if isinstance(platforms, str):
        platforms = [platforms]
    if not isinstance(platforms, list) or not platforms:
        raise UsageError(f"{where}: platforms is `ready`, `all` or a list of {', '.join(adapters.names())}")
    unknown = [name for name in platforms if name not in adapters.names()]
    if unknown:
        raise UsageError(f"{where}: unknown platforms {', '.join(map(str, unknown))}: valid platforms are "
                         f"{', '.join(adapters.names())}")
    return list(dict.fromkeys(platforms))


def parse_seeds(text):
    """`1-5`, `1,2,7` or `1-3,10` as a list of seeds; at most MAX_CELLS of them, counted before any
    list is built."""
    ranges = []
    for part in str(text).split(","):
        low, dash, high = part.strip().partition("-")
        if not (low.isascii() and low.isdigit()) or (dash and not (high.isascii() and high.isdigit())) \
                or (dash and int(high) < int(low)):
            raise UsageError(f"--seeds {text!r}: write seeds as 1-5, 1,2,7 or 1-3,10")
        ranges.append((int(low), int(high) if dash else int(low)))
    count = sum(high - low + 1 for low, high in ranges)
    if count > MAX_CELLS:
        raise UsageError(f"--seeds {text!r} names {count:,} seeds, more than {MAX_CELLS:,}: name fewer")
    seeds = [seed for low, high in ranges for seed in range(low, high + 1)]
    if len(seeds) != len(set(seeds)):
        raise UsageError(f"--seeds {text!r} names a seed twice")
    return seeds
