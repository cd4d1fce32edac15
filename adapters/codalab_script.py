"""What a researcher's own script or notebook adds to a CodaLab push (adapters/codalab.py drives `cl`):
each --data item uploaded as its own bundle, reused only when it is one of the user's own, ready and named
by its content's hash (as the built-in data bundle is); each a dependency of the run under the key the
shim reads (adapters/shims/codalab.py `dependency_key`), so that the shim lays it out at its DEST
relative to working/; and the image with the packages the script imports.

    dependencies = codalab_script.upload_inputs(cl, run_dir)     # {key: uuid}: `cl run key:uuid ...`
    image, note = codalab_script.image_for(image, run_dir)       # the image the run requests
"""

import hashlib
import json
import pathlib
import re
import subprocess
import tempfile

from adapters import bundle, codalab_image, own_platforms
from adapters.base import PlatformError
from adapters.shims import codalab as shim
from core import workspace
from core.errors import UsageError

REPOSITORY = "portability-codalab-script"
DOCKERFILE = "Dockerfile.codalab-script"


def own(run_dir):
    """The bundle's own_experiment (script, args, items) from its config.json."""
    return json.loads((pathlib.Path(run_dir) / "bundle" / "code" / "config.json").read_text())["own_experiment"]


def item_hash(item):
    """SHA-256 over the item's files (path in the item, content hash): names its bundle."""
    digest = hashlib.sha256()
    for entry in sorted(item["files"], key=lambda entry: entry["path"]):
        digest.update(f"{entry['path']}\0{entry['sha256']}\n".encode())
    return digest.hexdigest()


def bundle_name(item):
    """portability-input-NAME-HASH, NAME as CodaLab takes names."""
    return f"portability-input-{re.sub(r'[^A-Za-z0-9_.-]', '_', item['name'])}-{item_hash(item)[:16]}"


def upload_inputs(cl, run_dir):
    """{dependency key: bundle uuid} of every --data item, uploaded or reused."""
    sources = own_platforms.inputs(run_dir)
    return {shim.dependency_key(item["name"], index): input_uuid(cl, item, pathlib.Path(sources[item["name"]]))
            for index, item in enumerate(own(run_dir)["items"], start=1)}


def input_uuid(cl, item, source):
    """A ready bundle of the user's own with this content, else a new upload (kept packed: an archive
    the script reads stays the file it reads). A file changed since the push packaged it is refused."""
    now = [(entry["path"], entry["sha256"]) for entry in workspace.hash_tree(source, item["dest"])] \
        if source.exists() else []
    if now != [(entry["path"], entry["sha256"]) for entry in item["files"]]:
        raise UsageError(f"--data {source}: it changed (or is gone) since the push packaged it: push again")
    name = bundle_name(item)
    found = cl("search", f"name={name}", "state=ready", ".mine", "-u").split()
    if found:
        return found[0]
    return cl("upload", str(source), "--pack", "-n", name,
              "-d", f"{item['name']}, --data of a portability script run").splitlines()[-1].strip()


def extra_requirements(text):
    """The lines of a bundle's requirements.txt beyond the runtime's pins: the script's packages."""
    from adapters import docker

    pinned = set(docker.pinned_requirements().splitlines())
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#") and line not in pinned]


def run_image(image, requirements):
    """The image the run requests: `image` when the script needs nothing more or this machine's engine
    does not have it (a remote worker's image is named as is); else the image with the script's packages,
    tagged by the base's id and the requirements (a local worker uses this engine's images)."""
    if not extra_requirements(requirements):
        return image
    try:
        found = subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", image], capture_output=True, text=True)
    except FileNotFoundError:
        return image
    if found.returncode != 0:
        return image
    return f"{REPOSITORY}:{hashlib.sha256((found.stdout.strip() + requirements).encode()).hexdigest()[:12]}"


def image_for(image, run_dir):
    """(the image the run requests, what was done about the script's packages, or None): built here
    once where run_image names one."""
    path = pathlib.Path(run_dir) / "bundle" / "requirements.txt"
    text = path.read_text() if path.is_file() else ""
    extra, tag = extra_requirements(text), run_image(image, text)
    if not extra:
        return image, None
    if tag == image:
        return image, f"not checked here: the worker's image {image} must have {', '.join(extra)}"
    if not codalab_image.present_locally(tag):
        build(image, tag, text)
    return tag, f"{tag}: {image} plus {', '.join(extra)} (built here)"


def build(base, tag, requirements):
    """The script's image FROM `base`, offline from the wheelhouse where the offline base image exists."""
    from adapters import docker

    adapter = docker.DockerAdapter()
    if not adapter.offline and docker.docker("image", "inspect", docker.OFFLINE_BASE, check=False).returncode == 0:
        adapter.offline = True
    with tempfile.TemporaryDirectory() as context:
        folder = pathlib.Path(context)
        (folder / DOCKERFILE).write_text(bundle.render_template(DOCKERFILE, base=base))
        (folder / "requirements.txt").write_text(requirements)
        (folder / "wheels").mkdir()
        try:
            adapter.build(folder, tag, dockerfile=DOCKERFILE, base=base)
        except PlatformError as error:
            raise PlatformError(f"could not add the script's packages to the CodaLab image {base}: {error}") from None
