"""CodaLab Worksheets: a code bundle (the entry, shim and core), a data bundle, and a run bundle whose command
runs the entry in an explicit Docker image. Driven through the `cl` CLI as a separate program: the
`codalab` package only installs on Python 3.9, with pins that conflict with TensorFlow.

In a run, the working directory (also HOME) is /<uuid>; dependencies are read-only symlinks named by
their key (./code, ./data); everything left in the working directory becomes the output bundle.
"""

import functools
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

from adapters import bundle, codalab_image, codalab_script, emulation, own_experiment
from adapters.codalab_cli import cl_path, cl_python, logged_in  # noqa: F401 (codalab.cl_path: the interface)
from adapters.options import Option
from adapters.base import Adapter, MissingCredentials, MissingSDK, PlatformError, explain
from core import config as configuration, datasets

ROOT = bundle.ROOT

DEFAULT_IMAGE = "tensorflow/tensorflow:2.21.0"  # CodaLab's default image has TF 1.12: always name one
# worker_offline is not final: the bundle goes back to running when its worker checks in again
STATES = {"created": "queued", "staged": "queued", "preparing": "queued", "starting": "queued",
          "running": "running", "finalizing": "running", "ready": "completed", "failed": "failed",
          "killed": "cancelled", "worker_offline": "running"}
INSTALL_HINT = "make codalab-cli (the CodaLab CLI in its own Python 3.9 environment, .codalab-venv/)"
NETWORK = ("off", "on")
LAUNCHER = "cl_network_off.py"


def data_name(config):
    if config.dataset in configuration.BUILTIN_DATASETS:
        return f"portability-data-{config.dataset}"
    return f"portability-data-{pathlib.Path(config.dataset).stem}"


def content_hash(folder):
    """SHA-256 over the data bundle's files (relative path and content): names the bundle, so that only a
    bundle with this very content is reused."""
    digest = hashlib.sha256()
    for path in sorted(p for p in pathlib.Path(folder).rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(folder)}\0{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    return digest.hexdigest()


def split_worksheet(spec):
    """`https://host::name` -> (`https://host`, `name`); a bare name is on the default server."""
    address, _, name = spec.rpartition("::")
    return address, name


class CodaLabAdapter(Adapter):
    name = "codalab"
    display_name = "CodaLab"
    user_data_at = "data/"  # the data bundle, linked in as ./data
    helper_groups = {"dependency_key": "data access"}
    code_dir = "code"  # bundle/code/ is the code bundle; the plan and worksheet sit beside it
    tool = ("cl", f"{INSTALL_HINT}, or set PORTABILITY_CODALAB_CL")
    option_specs = (Option("image", DEFAULT_IMAGE, "the Docker image the run gets"),
                    Option("worksheet", "https://worksheets.codalab.org::portability", "the worksheet (SERVER::NAME)"),
                    Option("memory", "8g", "the run's memory request"), Option("cpus", "2", "the run's CPU request"),
                    Option("gpus", "0", "the run's GPU request"), Option("time", "2h", "the run's time limit"),
                    Option("network", "off", "whether the run may use the network", choices=NETWORK))

    def find_tool(self):
        return cl_path()

    @property
    def network(self):
        return self.platform_options["network"] == "on"

    def check(self):
        missing = super().check()
        if missing:
            return missing
        if not (os.environ.get("CODALAB_USERNAME") and os.environ.get("CODALAB_PASSWORD")) and not logged_in():
            return ["no CodaLab credentials: set CODALAB_USERNAME and CODALAB_PASSWORD, or run `cl login` once "
                    "(an account from worksheets.codalab.org)"]
        return []

    def check_online(self, timeout=10.0):
        from adapters import online

        return online.codalab(self, timeout)

    def options(self):
        return dict(self.platform_options)

    def slots(self, config):
        return {"IMAGE": self.options()["image"]}

    def manifests(self, config):
        options = self.options()
        label = config.preset or config.model
        plan = bundle.render_template(
            "codalab-plan.sh", data_name=data_name(config), launcher=LAUNCHER,
            data_description=f"{config.dataset} for the portability suite",
            code_name=f"portability-code-{label}", run_name=f"portability-{label}", **options)
        files = {"plan.sh": plan, "worksheet.md": bundle.render_template("codalab-worksheet.md")}
        if options["network"] == "off":
            files[LAUNCHER] = (bundle.SHIMS / LAUNCHER).read_text()
        return files

    # lifecycle through cl -------------------------------------------------------------------
    def cl(self, *args, session, timeout=600, launcher=None):
        """Run `cl` in the run's own session: cl otherwise names sessions after the process tree, so the
        worksheet chosen by `cl work` could be missing when status or pull run from elsewhere. With a
        launcher, cl runs through it in cl's own Python."""
        program = cl_path()
        if program is None:
            raise MissingSDK(f"the CodaLab CLI (cl) is missing: {INSTALL_HINT}")
        command = [program]
        if launcher is not None:
            python = cl_python(program)
            if python is None:
                raise PlatformError(f"cannot create the run with the network off: {program} is not a Python console "
                                    "script (install cl with `make codalab-cli`), or set PORTABILITY_CODALAB_NETWORK=on")
            command = [python, str(launcher)]
        try:
            done = subprocess.run([*command, *args], capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL, env={**os.environ, "CODALAB_SESSION": session})
        except subprocess.TimeoutExpired:
            raise PlatformError(f"cl {args[0]} did not answer within {timeout} s") from None
        if done.returncode != 0:
            output = (done.stderr or done.stdout).strip()
            raise explain("CodaLab", f"cl {' '.join(args[:2])}", RuntimeError(output[-800:]),
                          "check CODALAB_USERNAME and CODALAB_PASSWORD (or run `cl login`)")
        return done.stdout.strip()

    def submit(self, handle, run_dir):
        if handle.details.get("run_uuid"):
            return  # submitted by an earlier, interrupted push
        missing = self.check()
        if missing:
            raise MissingCredentials("; ".join(missing))
        options, values = self.options(), json.loads((run_dir / "config.json").read_text())
        script = own_experiment.is_script(values)
        if script:  # an image with the packages the script imports
            options["image"], handle.details["script_image"] = codalab_script.image_for(options["image"], run_dir)
        handle.details["image_checked"] = codalab_image.checked_for_run(options["image"])
        session = handle.details.setdefault("session", f"portability-{handle.run_id}")
        handle.details["worksheet"] = options["worksheet"]  # status and pull go to this server, from any CODALAB_HOME
        cl = functools.partial(self.cl, session=session)
        self.open_worksheet(cl, options["worksheet"])
        inputs = codalab_script.upload_inputs(cl, run_dir) if script else \
            {"data": self.data_uuid(cl, configuration.config_from_dict(values), run_dir)}
        code_uuid = cl("upload", str(run_dir / "bundle" / "code"), "-n", f"portability-code-{handle.bundle_hash[:12]}",
                       "-d", "portability experiment code (entry + core)").splitlines()[-1].strip()
        network_off = options["network"] == "off"
        run_uuid = cl("run", f"code:{code_uuid}", *(f"{key}:{uuid}" for key, uuid in inputs.items()), "python code/experiment.py",
                      "--request-docker-image", options["image"], "--request-memory", options["memory"],
                      "--request-cpus", options["cpus"], "--request-gpus", options["gpus"],
                      "--request-time", options["time"], *([] if network_off else ["--request-network"]),
                      "-n", f"portability-{handle.run_id}",
                      launcher=run_dir / "bundle" / LAUNCHER if network_off else None).splitlines()[-1].strip()
        handle.remote_id = run_uuid
        handle.details.update(run_uuid=run_uuid, code_uuid=code_uuid, **options,
                              **({"input_uuids": inputs} if script else {"data_uuid": inputs["data"]}))
        recorded = cl("info", "-f", "request_network", run_uuid).strip()  # what the server stored
        handle.details["request_network"] = recorded
        if recorded != str(not network_off):
            try:
                cl("kill", run_uuid)
                stopped = "it was stopped"
            except PlatformError as error:
                stopped = f"stopping it failed ({error}): run `cl kill {run_uuid}`"
            raise PlatformError(f"CodaLab recorded request_network={recorded} for run {run_uuid}, asked for "
                                f"{not network_off}; {stopped}. Check the CLI version (`make codalab-cli`)")

    def open_worksheet(self, cl, spec):
        """`cl work` on the worksheet, creating it first when the server has none of that name (CodaLab
        itself only creates a user's home and dashboard worksheets)."""
        try:
            cl("work", spec)
            return
        except PlatformError as error:
            if "No worksheet found" not in str(error):
                raise
        address, name = split_worksheet(spec)
        cl("work", f"{address}::" if address else "::")  # the user's home worksheet on that server
        cl("new", name)
        cl("work", spec)

    def data_uuid(self, cl, config, run_dir):
        """The data bundle: one of the user's own, ready, with this content (named by its hash), or a new upload.
        A failed or half-uploaded bundle of the same name, or someone else's, is never reused."""
        folder = self.data_bundle(config, run_dir)
        name = f"{data_name(config)}-{content_hash(folder)[:16]}"
        found = cl("search", f"name={name}", "state=ready", ".mine", "-u").split()
        if found:
            return found[0]
        return cl("upload", str(folder), "-n", name,
                  "-d", f"{config.dataset} for the portability suite").splitlines()[-1].strip()

    def setup(self, log):
        """A local CodaLab worker's image: the experiment image's runtime with Python on PATH."""
        log(f"now: export PORTABILITY_CODALAB_IMAGE={codalab_image.build(log=log)}")

    def data_bundle(self, config, run_dir):
        """The data as its own bundle folder: canonical IDX files, or the user's file."""
        folder = run_dir / "data-bundle"
        if folder.exists():
            shutil.rmtree(folder)
        if config.dataset in configuration.BUILTIN_DATASETS:
            return datasets.copy_canonical(config.dataset, datasets.fetch(config.dataset), folder)
        folder.mkdir()
        source = pathlib.Path(config.dataset)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, folder / source.name)
        return folder

    def remote(self, handle, *args):
        """`cl` on the run's own server and worksheet (recorded at push), whatever CODALAB_HOME is current."""
        worksheet = handle.details.get("worksheet") or self.options()["worksheet"]
        return self.cl(args[0], "-w", worksheet, *args[1:], session=handle.details["session"])

    def status(self, handle, run_dir):
        if not handle.remote_id:  # the push stopped before CodaLab had a run: pushing again resumes it
            return "submitting"
        state = self.remote(handle, "info", "-f", "state", handle.remote_id).strip()
        return STATES.get(state, "unknown")

    def fetch_outputs(self, handle, run_dir, target):
        with tempfile.TemporaryDirectory() as tmp:
            out = pathlib.Path(tmp) / "out"
            try:
                self.remote(handle, "download", handle.remote_id, "-o", str(out))
            except PlatformError as error:
                if "not found" not in str(error):
                    raise
                out.mkdir()  # a bundle that failed before its command ran has no contents at all
            for name in ("results.json", "model.h5", "model.keras"):
                if (out / name).is_file():
                    shutil.copyfile(out / name, target / name)
            own_experiment.copy_outputs(out, target)  # what a user's own script wrote
            log = "".join((out / name).read_text(errors="replace") for name in ("stdout", "stderr") if (out / name).is_file())
            if not (out / "results.json").is_file():
                log += self.failure(handle, log)
            (target / "log.txt").write_text(log)

    def failure(self, handle, log):
        """CodaLab's own account of a run that left no results (state, exit code, failure message), with the
        run's last output line: the pull's error message shows this line."""
        fields = self.remote(handle, "info", "-f", "state,exitcode,failure_message", handle.remote_id).split("\t")
        state, code, message = (field.strip() for field in (fields + ["", "", ""])[:3])
        last = [line.strip() for line in log.splitlines() if line.strip()][-1:]
        return (f"\nCodaLab: run {handle.remote_id} {state}, exit code {code}, CodaLab's message: {message}"
                + (f"; the run's last output: {last[0][:300]}" if last else "") + "\n")

    # emulation of a CodaLab worker ------------------------------------------------------------
    def sandbox(self, run_dir, data_dir, config):
        """A worker: cwd and HOME are /<uuid> (the output bundle), dependencies read-only under
        /bundles and linked in by their key, CODALAB=true."""
        uuid = "0x" + bundle.bundle_hash(run_dir / "bundle")[:32]  # the bundle's own hash, as its push names it
        home = f"/{uuid}"
        box = emulation.Sandbox(argv=[sys.executable, "code/experiment.py"], cwd=home, network=self.network,
                                hidden=self.hidden_credentials(),
                                env={**emulation.environment(), "HOME": home, "CODALAB": "true",
                                     "PORTABILITY_OBTAINED": "emulated"})
        box.binds += [(run_dir / "work" / "output", home, False),
                      (run_dir / "bundle" / "code", f"/bundles/{uuid}-code", True)]
        box.links.append((f"/bundles/{uuid}-code", f"{home}/code"))
        if data_dir is not None:
            box.binds.append((data_dir, f"/bundles/{uuid}-data", True))
            box.links.append((f"/bundles/{uuid}-data", f"{home}/data"))
        return box

    def emulate(self, handle, run_dir, data_dir):
        code = super().emulate(handle, run_dir, data_dir)
        for link in ("code", "data"):  # the links are the worker's, not part of the output bundle
            if (run_dir / "work" / "output" / link).is_symlink():
                (run_dir / "work" / "output" / link).unlink()
        return code

    def emulation_data(self, config):
        if config.dataset in configuration.BUILTIN_DATASETS:
            return datasets.fetch(config.dataset)
        return pathlib.Path(config.dataset).resolve().parent
