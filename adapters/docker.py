"""Docker: the bundle as an image (tag = bundle hash), data mounted read-only at /data, results on a
volume at /results. Driven through the `docker` CLI.

Offline mode (no image registry reachable): the base image is a Debian built locally with debootstrap
and `docker import`, and Python packages come from a wheelhouse downloaded on the host.
"""

import contextlib
import fcntl
import json
import os
import pathlib
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile

from adapters import bundle
from adapters.base import Adapter, MissingSDK, PlatformError, copy_work_outputs
from adapters.options import Option
from core import config as configuration, datasets, results as results_file

DEFAULT_BASE = "python:3.11-slim"
OFFLINE_BASE = "portability/debian-python:bookworm"
RUNTIME_PACKAGES = ("tensorflow-cpu", "keras", "numpy", "ml-dtypes", "h5py")
JUPYTER_REQUIREMENTS = "jupyterlab==4.6.6\nipykernel==7.4.0\n"  # the Jupyter image's additions, pinned


def docker(*args, check=True, capture=True, timeout=None, env=None):
    try:
        done = subprocess.run(["docker", *args], capture_output=capture, text=True, timeout=timeout, env=env)
    except FileNotFoundError:
        raise MissingSDK("the docker CLI is not installed: sudo apt-get install docker.io") from None
    if check and done.returncode != 0:
        raise PlatformError(f"docker {args[0]} failed: {(done.stderr or '').strip()[-800:]}")
    return done


@contextlib.contextmanager
def cache_lock(name, log=None):
    """Held while this process builds what another push could be building at the same time (an image, the
    wheelhouse): the other waits, then finds it built. An flock: it goes with the process, never left behind."""
    folder = datasets.cache_dir() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / (re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".lock"), "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            (log or (lambda message: None))(f"waiting for another process building {name}")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def pinned_requirements():
    """The runtime packages at the versions in requirements.txt, so the image matches the host."""
    wanted = {}
    for line in (pathlib.Path(__file__).resolve().parents[1] / "requirements.txt").read_text().splitlines():
        match = re.match(r"([A-Za-z0-9_.-]+)==([^\s;#]+)", line)
        if match and match.group(1) in RUNTIME_PACKAGES:
            wanted[match.group(1)] = match.group(2)
    return "".join(f"{name}=={wanted[name]}\n" for name in RUNTIME_PACKAGES)


class DockerAdapter(Adapter):
    name = "docker"
    computes_here = True
    user_data_at = "/data/"  # mounted at /data
    tool = ("docker", "sudo apt-get install docker.io")
    network = False  # the container runs with --network none
    emulation_paths = {"/data": "data", "/results": "output"}

    option_specs = (
        Option("jupyter", False, "JupyterLab in the experiment's image with the notebook, on a local port with a "
               "token (instead of running the script)", flag="--jupyter", boolean=True),
        Option("offline", False, "build from the offline base image (`portability setup docker`), no registry",
               boolean=True),
        Option("base", None, "the base image (default: the offline one in offline mode, else a Python image)"),
    )

    def __init__(self, **platform_options):
        super().__init__(**platform_options)
        self.offline, self.jupyter = self.platform_options["offline"], self.platform_options["jupyter"]
        self.base = self.platform_options["base"] or (OFFLINE_BASE if self.offline else DEFAULT_BASE)

    def after_push_note(self, handle, run_dir):
        if not handle.details.get("jupyter_url"):
            return ""
        return (f"JupyterLab: {self.jupyter_url(handle, run_dir)}\n  run the notebook's cells there; `portability pull` "
                f"collects its results; stop the server with `docker stop {handle.remote_id}`")

    def check(self):
        missing = super().check()
        if missing:
            return missing
        done = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
        if done.returncode != 0:
            return ["no Docker engine is reachable: start it (sudo systemctl start docker, or dockerd &) "
                    "and check that you may use it (docker info)"]
        if self.offline and docker("image", "inspect", self.base, check=False).returncode != 0:
            return [f"offline mode: the base image {self.base} does not exist yet: "
                    "run `portability setup docker` (needs root for debootstrap)"]
        return []

    def mode_note(self):
        return f"offline mode (base image {self.base})" if self.offline else self.base_image_note(only_missing=True)

    def base_image_note(self, only_missing=False):
        """Whether the base image the bundles build on is here: a local look, never a pull."""
        if docker("image", "inspect", self.base, check=False).returncode == 0:
            return "" if only_missing else f"base image {self.base} is here"
        return (f"base image {self.base} is not on this machine: a push pulls it from a registry; without one, "
                "run `portability setup docker`, then set PORTABILITY_DOCKER_OFFLINE=1 (offline mode)")

    def check_online(self, timeout=10.0):
        from adapters import online

        return online.docker(self, timeout)

    def manifests(self, config):
        files = {"Dockerfile": bundle.render_template("Dockerfile", base=DEFAULT_BASE),
                 "requirements.txt": pinned_requirements(),
                 "wheels/README": "Offline builds: put the wheels of requirements.txt here.\n"}
        if self.jupyter:  # push docker --jupyter: the notebook, and an image with JupyterLab
            from adapters import notebook

            files.update({"experiment.ipynb": notebook.for_platform(self.name, self.slots(config), self.bundle_config(config)),
                          "Dockerfile.jupyter": bundle.render_template("Dockerfile.jupyter"),
                          "jupyter-requirements.txt": JUPYTER_REQUIREMENTS})
        return files

    def setup(self, log):
        """Without a registry: the Debian base image (debootstrap) and the host's wheelhouse."""
        build_offline_base(log=log)
        log(f"wheelhouse: {wheelhouse()}")
        log("now: PORTABILITY_DOCKER_OFFLINE=1 portability push docker --wait")

    def image_tag(self, handle):
        return f"portability-experiment:{handle.bundle_hash[:12]}"

    def data_mount(self, dataset):
        if dataset in configuration.BUILTIN_DATASETS:
            return datasets.fetch(dataset), "/data"
        source = pathlib.Path(dataset).resolve()
        return source, f"/data/{source.name}"

    def submit(self, handle, run_dir):
        name = f"portability-{handle.run_id}"
        if docker("container", "inspect", name, check=False).returncode == 0:
            handle.remote_id = name
            return  # started by an earlier, interrupted push
        tag = self.image_tag(handle)
        if docker("image", "inspect", tag, check=False).returncode != 0:
            self.build(run_dir / "bundle", tag)
        mounts = self.data_mounts(run_dir)
        output = run_dir / "work" / "output"
        output.mkdir(parents=True, exist_ok=True)
        if self.jupyter:
            return self.start_jupyter(handle, run_dir, name, tag, mounts[0])
        docker("run", "-d", "--name", name, "--network", "none",
               "--user", f"{os.getuid()}:{os.getgid()}",
               *[argument for data, mount in mounts for argument in ("-v", f"{data}:{mount}:ro")],
               "-v", f"{output.resolve()}:/results",
               "-e", f"PORTABILITY_IMAGE={tag}", "-e", "PORTABILITY_OBTAINED=executed",
               *(["-e", f"PORTABILITY_THREADS={os.environ['PORTABILITY_THREADS']}"]
                 if os.environ.get("PORTABILITY_THREADS") else []),
               "--label", f"portability.run={handle.run_id}", tag)
        handle.remote_id = name
        handle.details.update(image=tag, base_image=self.base, data=", ".join(str(data) for data, _ in mounts))

    def data_mounts(self, run_dir):
        """[(host path, container path)]: the data set, or each item of a user's own script."""
        from adapters import own_experiment, own_platforms

        values = json.loads((run_dir / "config.json").read_text())
        if own_experiment.is_script(values):
            return own_platforms.DockerScript().mounts(run_dir)
        return [self.data_mount(values["dataset"])]

    def build(self, bundle, tag, dockerfile="Dockerfile", base=None, requirements=None):
        with cache_lock(tag), tempfile.TemporaryDirectory() as context:
            if docker("image", "inspect", tag, check=False).returncode == 0:
                return  # built meanwhile by another push of the same bundle
            shutil.copytree(bundle, context, dirs_exist_ok=True)
            if self.offline:
                wanted = (pathlib.Path(bundle) / "requirements.txt").read_text() if requirements is None else None
                if wanted is not None and wanted != pinned_requirements():  # a user's script adds packages
                    requirements, folder = wanted, "wheelhouse-scripts"
                else:
                    folder = None
                for wheel in wheelhouse(requirements, folder).glob("*.whl"):
                    os.link(wheel, pathlib.Path(context) / "wheels" / wheel.name) if _same_device(wheel, context) \
                        else shutil.copy(wheel, pathlib.Path(context) / "wheels")
            docker("build", "-q", "--network", "none" if self.offline else "default", "-f", str(pathlib.Path(context) / dockerfile),
                   "--build-arg", f"BASE_IMAGE={base or self.base}", "-t", tag, context)

    def start_jupyter(self, handle, run_dir, name, tag, data):
        """JupyterLab in a container of the experiment image, the notebook in it, on a free port of
        127.0.0.1 with a token; the notebook writes its results to the run's output folder."""
        jupyter_tag = tag.replace("portability-experiment:", "portability-jupyter:")
        if docker("image", "inspect", jupyter_tag, check=False).returncode != 0:
            self.build(run_dir / "bundle", jupyter_tag, "Dockerfile.jupyter", base=tag, requirements=JUPYTER_REQUIREMENTS)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        token = secrets.token_hex(24)
        (run_dir / "work" / "jupyter-token").touch(mode=0o600)
        (run_dir / "work" / "jupyter-token").write_text(token + "\n")
        docker("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8888", "--user", f"{os.getuid()}:{os.getgid()}",
               "-v", f"{data[0]}:{data[1]}:ro", "-v", f"{(run_dir / 'work' / 'output').resolve()}:/results",
               "-e", "JUPYTER_TOKEN", "-e", "PORTABILITY_OBTAINED=executed", "--label", f"portability.run={handle.run_id}",
               jupyter_tag, env={**os.environ, "JUPYTER_TOKEN": token})
        handle.remote_id = name
        handle.details.update(image=jupyter_tag, base_image=self.base, jupyter_port=port,
                              jupyter_url=f"http://127.0.0.1:{port}/lab/tree/experiment.ipynb")

    def jupyter_url(self, handle, run_dir):
        """The notebook's address with its token (kept in the run folder, readable by you only)."""
        token = (run_dir / "work" / "jupyter-token").read_text().strip()
        return f"{handle.details['jupyter_url']}?token={token}"

    def status(self, handle, run_dir):
        if not handle.remote_id:  # stopped before its container was started: there is nothing to ask
            return "unknown"
        if handle.details.get("jupyter_url"):  # done when the notebook has written its results
            if results_file.complete(run_dir / "work" / "output" / "results.json"):
                return "completed"
        done = docker("container", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", handle.remote_id,
                      check=False)
        ended = run_dir / "work" / "container-exit"  # written when a pull removed the ended container
        if done.returncode == 0:
            state, code = done.stdout.split()
        elif ended.is_file():
            state, code = ended.read_text().split()
        else:
            return "completed" if (run_dir / "results.json").is_file() else "unknown"
        if state in ("created",):
            return "queued"
        if state in ("running", "restarting", "paused"):
            return "running"
        return "completed" if code == "0" else "failed"

    def fetch_outputs(self, handle, run_dir, target):
        """The outputs from the mounted folder, the log from the engine; an ended container is then removed
        (its log and exit state kept in the run's work folder), so pushes leave no exited containers."""
        work = run_dir / "work"
        state = docker("container", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", handle.remote_id,
                       check=False) if handle.remote_id else None
        logs = docker("logs", handle.remote_id, check=False) if state is not None and state.returncode == 0 else None
        if logs is not None and logs.returncode == 0:
            work.mkdir(parents=True, exist_ok=True)
            (work / "container-log.txt").write_text(logs.stdout + logs.stderr)
        copy_work_outputs(run_dir, target)
        if (work / "container-log.txt").is_file():  # the engine's log of the run is its log.txt
            shutil.copyfile(work / "container-log.txt", target / "log.txt")
        if logs is not None and state.stdout.split()[0] in ("exited", "dead") and not handle.details.get("jupyter_url"):
            (work / "container-exit").write_text(state.stdout)
            docker("rm", handle.remote_id, check=False)


def _same_device(path, folder):
    return os.stat(path).st_dev == os.stat(folder).st_dev


def wheelhouse(requirements=None, name=None):
    """Wheels of the runtime packages for the image (or of `requirements`, in the folder `name`),
    downloaded on the host (cached)."""
    folder = datasets.cache_dir() / (name or ("wheelhouse" if requirements is None else "wheelhouse-jupyter"))
    with cache_lock(folder.name):
        return _download_wheels(folder, requirements or pinned_requirements())


def _download_wheels(folder, requirements):
    stamp = folder / "requirements.txt"
    if stamp.is_file() and stamp.read_text() == requirements:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "wanted.txt").write_text(requirements)
    # The host's Python 3.11 on glibc 2.36 picks the wheels Debian bookworm's python3 (3.11) installs.
    # Jupyter's dependencies move fast: pick the ones that install on bookworm's Python 3.11.2
    target = ["--python-version", "3.11.2"] if folder.name == "wheelhouse-jupyter" else []
    done = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", *target,
                           "-d", str(folder), "-r", str(folder / "wanted.txt")], capture_output=True, text=True)
    if done.returncode != 0:
        raise PlatformError(f"could not download the wheelhouse: {done.stderr.strip()[-800:]}")
    stamp.write_text(requirements)
    return folder


def apt_mirror():
    """The Debian mirror this machine's apt uses (for debootstrap)."""
    for path in [pathlib.Path("/etc/apt/sources.list"), *sorted(pathlib.Path("/etc/apt/sources.list.d").glob("*"))]:
        try:
            text = path.read_text()
        except OSError:
            continue
        match = re.search(r"^URIs:\s*(\S+/debian)\s*$", text, re.M) or re.search(r"^deb\s+(\S+/debian)\s+\S+", text, re.M)
        if match:
            return match.group(1)
    return "http://deb.debian.org/debian"


def build_offline_base(name=OFFLINE_BASE, log=print):
    """A Debian bookworm image with python3 + venv, made with debootstrap and `docker import`."""
    with cache_lock(name, log):
        return _debootstrap_base(name, log)


def _debootstrap_base(name, log):
    if docker("image", "inspect", name, check=False).returncode == 0:
        log(f"{name} exists")
        return name
    if shutil.which("debootstrap") is None:
        raise MissingSDK("offline mode needs debootstrap: sudo apt-get install debootstrap")
    with tempfile.TemporaryDirectory() as root:
        log(f"debootstrap bookworm from {apt_mirror()} (about a minute)")
        done = subprocess.run(["debootstrap", "--variant=minbase", "--include=python3,python3-venv", "bookworm",
                               root, apt_mirror()], capture_output=True, text=True)
        if done.returncode != 0:
            raise PlatformError(f"debootstrap failed (it needs root): {done.stderr.strip()[-800:]}")
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(["docker", "import", "-", name], stdin=tar.stdout, capture_output=True, text=True)
        tar.wait()
        if imported.returncode != 0:
            raise PlatformError(f"docker import failed: {imported.stderr.strip()}")
    log(f"built {name}")
    return name
