"""The adapter interface. A platform is one subclass of `Adapter`: it says what it needs (`check`),
how its bundle differs (`slots`, `manifests`), and how to `submit`, ask the `status` of, and
`fetch_outputs` of a run. Everything else is shared: packaging (adapters.bundle), the run store and
lifecycle (portability.store, portability.runs), emulation (adapters.emulation). Optional hooks have
defaults that do nothing platform-specific.
"""

import abc
import importlib.util
import json
import pathlib
import shutil
import sys

import adapters
from adapters import bundle, emulation, options
from core import config as configuration
from adapters.errors import (MissingCredentials, MissingSDK, PlatformError, State, Transient,  # noqa: F401
                             explain, http_response)  # the interface every adapter imports from here

OUTPUT_FILES = ("results.json", "model.h5", "model.keras", "log.txt")


def sdk_installed(module):
    """Whether `module` can be imported, without importing it (some SDKs act at import)."""
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ValueError, ImportError):
        return False


def copy_work_outputs(run_dir, target):
    """A run's output files from its working folder (output/ first, then the folder itself)."""
    work = pathlib.Path(run_dir) / "work"
    for name in OUTPUT_FILES:
        for source in (work / "output" / name, work / name):
            if source.is_file():
                shutil.copyfile(source, pathlib.Path(target) / name)
                break
    from adapters import own_experiment

    own_experiment.copy_outputs(work / "output", target)  # what a user's own script wrote


class Adapter(abc.ABC):
    name = ""
    display_name = ""  # the platform's name as it writes it (OpenML, CodaLab); default: the name capitalized
    tool = None  # (command, how to install it) for a platform driven through a CLI
    code_dir = ""  # where experiment.py, shim.py, config.json and core/ sit in the bundle
    single_file = False  # the platform runs one file: the bundle travels inside experiment.py
    network = True  # whether a run may use the network; its emulation cuts it otherwise
    user_data_at = None  # where the platform sees a user's data file (a path prefix); None: its path here
    emulation_paths = {}  # platform path -> "data" | "output" | "tmp", for the default sandbox
    helper_groups = {}  # shim helper function -> its group in the code diff (the hooks' groups are known)
    emulation_variables = ()  # prefixes of host variables the platform gives its runs (its own settings)
    runs_with_own_credentials = False  # computes here with the user's credentials (a tracker), not remotely
    computes_here = False  # trains on this machine's cores: a sweep runs its cells as Dask tasks
    for_repository = False  # rendering the committed platforms/ files: no user's name or settings in them
    option_specs = ()  # the platform's options (adapters.options.Option), as constructor arguments

    def __init__(self, **platform_options):
        self.platform_options = options.resolve(self.name, self.option_specs, platform_options, self.display_name)
        self._missing = None

    def missing(self):
        """check(), asked once per adapter: one adapter serves one command."""
        if self._missing is None:
            self._missing = self.check()
        return self._missing

    def how_it_ran(self, platform, mode):
        """Where the computation happened and what reached the platform, when `mode` (executed or
        emulated) alone would say more than happened; None otherwise. `platform` is results.json's."""
        return None

    def after_push_note(self, handle, run_dir):
        """Lines for the user after a push (e.g. where a server the run started listens); "" otherwise."""
        return ""

    def generated_folder(self):
        """platforms/<folder>: where `portability package` writes this platform's generated files."""
        return self.name

    # what is missing ---------------------------------------------------------------------------
    def check(self):
        """What is missing to push (SDK, tool, credentials, engine), as messages that say what to do;
        [] when ready. Never raises."""
        sdk = adapters.REGISTRY[self.name].sdk
        if sdk and not sdk_installed(sdk):
            return [adapters.install_hint(self.name)]
        if self.tool and self.find_tool() is None:
            return [f"the {self.name} adapter needs the {self.tool[0]} command: {self.tool[1]}"]
        return []

    def find_tool(self):
        return shutil.which(self.tool[0])

    def check_online(self, timeout=10.0):
        """`platforms --online`, on a ready adapter: one cheap authenticated read-only call (adapters/online.py)
        within about `timeout` s, creating nothing; an online.Online (works True/False/None, one line)."""
        from adapters import online

        return online.Online(None, "no online check for this platform")

    def mode_note(self):
        """How a ready platform will run, when it has several modes (e.g. "offline"); "" otherwise."""
        return ""

    # package -------------------------------------------------------------------------------------
    def slots(self, config):
        """Values for the shim's named slots (lines `NAME = value  # slot`)."""
        return {}

    def bundle_config(self, config):
        """The config as the platform sees it: a user's data set is named where the platform finds it."""
        values = config.to_dict()
        if self.user_data_at is not None and values["dataset"] not in configuration.BUILTIN_DATASETS:
            values["dataset"] = f"{self.user_data_at}{pathlib.Path(values['dataset']).name}"
        return values

    def manifests(self, config):
        """Files besides the code, {relative path: text}: a Dockerfile, a metadata file, a plan."""
        return {}

    def render(self, config):
        """The generated files (all but core/, unless the bundle is a single file): these are what
        `portability package` writes to platforms/<name>/."""
        from adapters import own_experiment

        if own_experiment.is_script(config):  # a user's own script or notebook
            return own_experiment.render(self, config)
        config_text = json.dumps(self.bundle_config(config), indent=2, sort_keys=True) + "\n"
        code = bundle.code_files(self.name, self.slots(config), config_text)
        if self.single_file:
            code = {self.entry_path(): bundle.single_file({**code, **bundle.core_files()})}
        else:
            code = {str(pathlib.PurePosixPath(self.code_dir, path)): text for path, text in code.items()}
        return {**code, **self.manifests(config)}

    def package(self, config, bundle_dir):
        """Write the whole bundle into `bundle_dir` (replaced if it exists); return its hash."""
        from adapters import own_experiment, own_platforms

        if own_experiment.is_script(config):
            own_platforms.of(self)  # a platform that does not take a user's script yet says so, first
        bundle_dir = pathlib.Path(bundle_dir)
        if bundle_dir.exists():
            shutil.rmtree(bundle_dir)
        files = self.render(config)
        if not self.single_file:
            files.update({str(pathlib.PurePosixPath(self.code_dir, p)): t for p, t in bundle.core_files().items()})
        bundle.write(bundle_dir, files)
        return bundle.bundle_hash(bundle_dir)

    def entry_path(self):
        return str(pathlib.PurePosixPath(self.code_dir, "experiment.py"))

    def describe_push(self, bundle_dir):
        """What push would send, for --dry-run."""
        files = sorted(str(p.relative_to(bundle_dir)) for p in pathlib.Path(bundle_dir).rglob("*") if p.is_file())
        return f"{self.name}: would run {self.entry_path()} from a bundle of {len(files)} files:\n  " + "\n  ".join(files)

    def code_files(self, folder):
        """The code a platform's generated folder holds, as {name: text}, for the code diff, and how
        many of those lines are the core carried verbatim (not a change)."""
        folder = pathlib.Path(folder)
        if self.single_file:
            files, loader = bundle.unpack_single_file((folder / self.entry_path()).read_text())
            core = bundle.core_lines(files)
            code = {name: files[name] for name in ("experiment.py", "shim.py")}
            return {**code, "single-file loader": loader}, core
        return {name: (folder / self.code_dir / name).read_text() for name in ("experiment.py", "shim.py")}, 0

    def code_paths(self, folder):
        """The generated files that code_files() covers (the rest are manifests, for the code diff)."""
        return {self.entry_path(), str(pathlib.PurePosixPath(self.code_dir, "shim.py"))}

    # lifecycle -----------------------------------------------------------------------------------
    @abc.abstractmethod
    def submit(self, handle, run_dir):
        """Start the run of run_dir/bundle on the platform; fill handle.remote_id / details. Safe to
        call again for the same handle: a push killed midway is resumed by calling it again."""

    @abc.abstractmethod
    def status(self, handle, run_dir):
        """The run's state, one of portability.store.STATES."""

    @abc.abstractmethod
    def fetch_outputs(self, handle, run_dir, target):
        """Put the run's output files (results.json, models, log.txt) into the folder `target`."""

    def before_push(self, pushed, log):
        """Work left from earlier runs, done before a new push (e.g. uploading offline results);
        `pushed` is this platform's (handle, run_dir) list. Returns a line for the user, or None."""
        return None

    def learned_facts(self, handle, run_dir, platform):
        """What the platform said about the run after it ended (e.g. published later, scored), kept in
        the handle and merged into results.json's `platform` at every pull; `platform` is the run's own."""
        return {}

    def report_note(self, platform):
        """What the platform itself holds of the run, for the report (e.g. its published id and own
        score), from results.json's `platform`; "" when it keeps nothing of its own."""
        return ""

    def setup(self, log):
        """One-time preparation of this machine for the platform (`portability setup NAME`)."""
        log(f"{self.name}: nothing to set up")

    # emulation -----------------------------------------------------------------------------------
    def sandbox(self, run_dir, data_dir, config):
        """The platform's runtime for the bundle in run_dir/bundle, as an emulation.Sandbox."""
        output = run_dir / "work" / "output"
        box = emulation.Sandbox(argv=[sys.executable, run_dir / "bundle" / self.entry_path()],
                                cwd=str(run_dir / "work"), network=self.network, hidden=self.hidden_credentials(),
                                env={**emulation.environment(self.emulation_variables), "PORTABILITY_OBTAINED": "emulated"})
        for path, kind in self.emulation_paths.items():
            if kind == "output":
                box.binds.append((output, path, False))
            elif kind == "data" and data_dir is not None:
                box.binds.append((data_dir, path, True))
            elif kind == "tmp":
                box.scratch.append(path)
        return box

    def hidden_credentials(self):
        """Every platform's credential files, hidden from an emulated run (but the platform's own, where
        it computes here with them)."""
        others = [name for name in adapters.names() if not (name == self.name and self.runs_with_own_credentials)]
        return adapters.credential_files(others)

    def emulate(self, handle, run_dir, data_dir):
        """Run the bundle, unmodified, in the emulated runtime; blocks; the exit code."""
        (run_dir / "work" / "output").mkdir(parents=True, exist_ok=True)
        config = json.loads((run_dir / "config.json").read_text())
        from adapters import own_experiment, own_platforms

        script = own_platforms.of(self) if own_experiment.is_script(config) else None
        box = script.sandbox(self, run_dir) if script else self.sandbox(run_dir, data_dir, config)
        code = box.run(run_dir / "work" / "log.txt")
        if script:
            script.after_emulation(self, run_dir)
        (run_dir / "work" / "exitcode").write_text(f"{code}\n")
        return code

    def emulation_data(self, config):
        """The host folder the emulation binds read-only as the platform's data."""
        from core import datasets

        if config.dataset in configuration.BUILTIN_DATASETS:
            return datasets.fetch(config.dataset)
        return pathlib.Path(config.dataset).resolve().parent
