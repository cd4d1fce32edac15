"""The Docker image a CodaLab run gets, made explicit and checked.

A CodaLab worker runs a bundle as `/bin/bash -c '( python code/experiment.py ) >stdout 2>stderr'` in the
requested image, with the entrypoint cleared and only HOME and CODALAB set: the image must have a
`python` on PATH with TensorFlow and Keras. The project's experiment image keeps them in /venv, so the
CodaLab image is that image's runtime (same base, same pinned wheels, built offline as the Docker adapter
builds it) with /venv/bin on PATH. Where the worker's Docker engine is this machine's (a local CodaLab
server), the image is checked the way the worker will run it before a run is created.
"""

import hashlib
import os
import pathlib
import subprocess
import tempfile

from adapters import bundle
from adapters.base import PlatformError
from core.errors import UsageError

REPOSITORY = "portability-codalab"
# Run as the worker runs a bundle: entrypoint cleared, bash, only HOME and CODALAB in the environment.
PROBE = ("python -c 'import importlib.util as u, sys; "
         "missing = [m for m in (\"tensorflow\", \"keras\", \"numpy\", \"h5py\") if u.find_spec(m) is None]; "
         "print(sys.version.split()[0], *missing); sys.exit(3 if missing else 0)'")


def dockerfile(base):
    return bundle.render_template("Dockerfile.codalab", base=base)


def local_tag(base):
    """The tag names the Dockerfile, the base and the pinned packages: a changed pin builds a new image."""
    from adapters import docker

    digest = hashlib.sha256((dockerfile(base) + docker.pinned_requirements()).encode()).hexdigest()
    return f"{REPOSITORY}:{digest[:12]}"


def build(log=print):
    """Build (once) the CodaLab image from the experiment image's base and wheels; returns its tag.
    Offline (no registry) when PORTABILITY_DOCKER_OFFLINE is set or the offline base image exists."""
    from adapters import docker

    adapter = docker.DockerAdapter()
    if not adapter.offline and docker.docker("image", "inspect", docker.OFFLINE_BASE, check=False).returncode == 0:
        adapter.offline, adapter.base = True, docker.OFFLINE_BASE
    tag = local_tag(adapter.base)
    if docker.docker("image", "inspect", tag, check=False).returncode == 0:
        log(f"{tag} exists")
        return tag
    with tempfile.TemporaryDirectory() as context:
        folder = pathlib.Path(context)
        (folder / "Dockerfile.codalab").write_text(dockerfile(adapter.base))
        (folder / "requirements.txt").write_text(docker.pinned_requirements())
        (folder / "wheels").mkdir()
        log(f"building {tag} from {adapter.base} ({'offline, from the wheelhouse' if adapter.offline else 'online'})")
        adapter.build(folder, tag, dockerfile="Dockerfile.codalab")
    problem = check_local(tag)
    if problem:
        raise PlatformError(f"the CodaLab image {tag} was built but cannot run a bundle: {problem}")
    log(f"built {tag}")
    return tag


def present_locally(image):
    """Whether this machine's Docker engine has the image (False without an engine)."""
    try:
        return subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


def check_local(image):
    """None if `image` runs `python` as a CodaLab worker would run it, else what is wrong."""
    try:
        done = subprocess.run(["docker", "run", "--rm", "--network", "none", "--entrypoint", "", "--env", "HOME=/tmp",
                               "--env", "CODALAB=true", image, "/bin/bash", "-c", PROBE],
                              capture_output=True, text=True, timeout=120, env={**os.environ})
    except (FileNotFoundError, subprocess.TimeoutExpired) as error:
        return f"it could not be started ({error})"
    if done.returncode == 0:
        return None
    if done.returncode == 127 or "not found" in done.stderr:
        return "it has no `python` on PATH (CodaLab runs `python code/experiment.py` with the entrypoint cleared)"
    if done.returncode == 3:
        return f"its python lacks {', '.join(done.stdout.split()[1:])}"
    return (done.stderr or done.stdout).strip()[-300:] or f"exit code {done.returncode}"


def checked_for_run(image):
    """Before a run is created: where this machine's Docker engine has the image (a local CodaLab worker
    uses this engine), it must run `python` as the worker runs it; says what was checked."""
    if not present_locally(image):
        return "not on this machine: the worker gets it from its registry"
    problem = check_local(image)
    if problem:
        raise UsageError(f"the CodaLab image {image} cannot run the experiment: {problem}; "
                         "`portability setup codalab` builds one that can (then set PORTABILITY_CODALAB_IMAGE)")
    return "runs `python` as a CodaLab worker runs it (checked on this machine)"
