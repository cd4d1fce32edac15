"""A platform's runtime, emulated here with bubblewrap: its fixed paths, read-only inputs, output
folder, environment and (unless the bundle needs it) no network. The sandbox's root is a tmpfs
holding the host's top-level folders, so the platform's own paths are made in the sandbox, never on
the host."""

import dataclasses
import os
import pathlib
import shutil
import subprocess
import tempfile

from core.errors import UserError


def host_root_arguments():
    arguments = ["--tmpfs", "/"]
    for entry in sorted(os.listdir("/")):
        path = f"/{entry}"
        if entry in ("dev", "proc"):
            continue
        if os.path.islink(path):
            arguments += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            arguments += ["--bind", path, path]
    return arguments


# what any run may see of the host's environment; an adapter adds its own settings' prefixes
SAFE_VARIABLES = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "LC_", "TZ", "TERM", "TMPDIR", "PYTHON",
                  "TF_", "OMP_", "OPENBLAS_", "MKL_", "KMP_", "CUDA_", "NVIDIA_", "XDG_CACHE_HOME",
                  "PORTABILITY_CACHE_DIR", "PORTABILITY_DATA_MIRROR", "PORTABILITY_THREADS")


def environment(prefixes=()):
    """The host's variables a sandbox starts from: the safe ones and those with the given prefixes."""
    allowed = SAFE_VARIABLES + tuple(prefixes)
    return {key: value for key, value in os.environ.items() if key.startswith(allowed)}


def _empty_file():
    """An empty file to show in place of a credential file (a bound /dev/null cannot be read there)."""
    path = pathlib.Path(tempfile.gettempdir()) / f"portability-empty-{os.getuid()}"
    if not path.is_file() or path.stat().st_size:
        path.write_bytes(b"")
    return path


@dataclasses.dataclass
class Sandbox:
    """What the program sees: `binds` are (host path, platform path, read-only), `links` are
    (target, path) symlinks made inside, `scratch` are empty tmpfs folders, `hidden` are host files and
    folders (credentials) replaced by empty ones; `env` is the whole environment."""

    argv: list
    cwd: str
    binds: list = dataclasses.field(default_factory=list)
    links: list = dataclasses.field(default_factory=list)
    scratch: list = dataclasses.field(default_factory=list)
    hidden: list = dataclasses.field(default_factory=list)
    env: dict = dataclasses.field(default_factory=dict)
    network: bool = False

    def command(self):
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise UserError("emulation needs bubblewrap: sudo apt-get install bubblewrap")
        command = [bwrap, *host_root_arguments(), "--dev", "/dev", "--proc", "/proc", "--clearenv"]
        if not self.network:
            command.append("--unshare-net")
        for path in self.hidden:
            command += ["--tmpfs", str(path)] if os.path.isdir(path) else ["--ro-bind", str(_empty_file()), str(path)]
        for host, inside, read_only in self.binds:
            command += ["--ro-bind" if read_only else "--bind", str(host), inside]
        for target, path in self.links:
            command += ["--symlink", target, path]
        for path in self.scratch:
            command += ["--tmpfs", path]
        for key, value in sorted(self.env.items()):
            command += ["--setenv", key, value]
        return [*command, "--chdir", self.cwd, *map(str, self.argv)]

    def run(self, log_path):
        """Run to the end, stdout and stderr into `log_path`; the exit code."""
        with open(log_path, "w") as log:
            return subprocess.run(self.command(), stdout=log, stderr=subprocess.STDOUT).returncode
