"""A platform's runtime, emulated here with bubblewrap: its fixed paths, read-only inputs, output
folder, environment and (unless the bundle needs it) no network. The sandbox's root is a tmpfs
holding the host's top-level folders, so the platform's own paths are made in the sandbox, never on
the host."""

import dataclasses
import os
import shutil
import subprocess

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


@dataclasses.dataclass
class Sandbox:
    """What the program sees: `binds` are (host path, platform path, read-only), `links` are
    (target, path) symlinks made inside, `scratch` are empty tmpfs folders."""

    argv: list
    cwd: str
    binds: list = dataclasses.field(default_factory=list)
    links: list = dataclasses.field(default_factory=list)
    scratch: list = dataclasses.field(default_factory=list)
    env: dict = dataclasses.field(default_factory=dict)
    network: bool = False

    def command(self):
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise UserError("emulation needs bubblewrap: sudo apt-get install bubblewrap")
        command = [bwrap, *host_root_arguments(), "--dev", "/dev", "--proc", "/proc"]
        if not self.network:
            command.append("--unshare-net")
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
