"""The genuine CodaLab Worksheets 1.7.5 server (from the `codalab` wheel in .codalab-venv) on loopback:
MariaDB with a private datadir, the REST server, the ws-server, the bundle manager and a real worker
that runs bundles in Docker, with the project's CodaLab image (adapters/codalab_image.py) as the
default image. `make codalab-server` starts one for a user; the tests start one per session.

What a loopback server needs that CodaLab's own deployment (docker-compose) provides:
1. The REST server and bundle manager reach the ws-server at the fixed host name `ws-server`: every
   process runs in a private network+mount namespace (`unshare --net --mount`) whose /etc/hosts (a
   bind mount) names `ws-server` 127.0.0.1. The host's /etc/hosts is untouched, and the fixed ports
   (3306, 2900, 2901) are private to the namespace. `cl` enters it through `bin/cl` (nsenter).
2. No image registry: the worker starts from a wrapper in which docker-py's pull fails at once, so
   CodaLab uses the image found locally; the same wrapper makes Docker network pruning a no-op (on a
   shared engine the other networks are someone else's).
3. Bundles that ask for the network join the worker's `<prefix>_ext` network: it is created beforehand
   as --internal, so no bundle has a route off the host.
Everything started is stopped by PID; the datadir, networks, containers and image cache tags it created
are removed.
"""

import json
import os
import pathlib
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
VENV = ROOT / ".codalab-venv"
REST_PORT, WS_PORT, DB_PORT = 2900, 2901, 3306
USER = "codalab"  # CodaLab's root user
WORKER = """import docker, docker.errors, docker.models.networks
def no_pull(self, *args, **kwargs):  # no registry: CodaLab then uses the local image
    raise docker.errors.APIError("pulls are disabled on this loopback worker")
docker.APIClient.pull = no_pull
docker.models.networks.NetworkCollection.prune = lambda self, *args, **kwargs: None  # not ours to prune
from codalab.worker.main import main
main()
"""


def missing():
    """What this machine lacks to run the server (empty when it can)."""
    needs = []
    if not (VENV / "bin" / "cl-server").is_file() or not list(VENV.glob("lib/python3.9/site-packages/MySQLdb")):
        needs.append("the CodaLab server in .codalab-venv (make codalab-cli)")
    for program, package in (("mariadbd", "mariadb-server"), ("unshare", "util-linux"), ("ip", "iproute2"),
                             ("docker", "docker.io")):
        if shutil.which(program) is None:
            needs.append(f"{program} (apt-get install {package})")
    if os.geteuid() != 0:
        needs.append("root (namespaces and nsenter)")
    if shutil.which("docker") and subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        needs.append("a running Docker engine")
    return needs


class GenuineCodaLab:
    """start() the whole server, stop() it. `env` is what a client needs (CODALAB_*, PORTABILITY_CODALAB_*)."""

    def __init__(self, image, password="codalab", folder=None, log=lambda message: None):
        self.image, self.password, self.log = image, password, log
        self.folder = pathlib.Path(folder or tempfile.mkdtemp(prefix="codalab-genuine-"))
        self.prefix = f"portability-cl-{secrets.token_hex(4)}"
        self.processes, self.networks, self.timings = [], [], {}
        self.holder = None
        self.url = f"http://127.0.0.1:{REST_PORT}"
        self.created = time.time()

    # the namespace ------------------------------------------------------------------------------
    def enter(self, *command):
        return ["nsenter", f"--target={self.holder.pid}", "--net", "--mount", "--", *map(str, command)]

    def start_namespace(self):
        hosts = self.folder / "hosts"
        hosts.write_text("127.0.0.1 localhost ws-server\n::1 localhost\n")
        self.holder = subprocess.Popen(
            ["unshare", "--net", "--mount", "--", "sh", "-c",
             f"ip link set lo up && mount --bind {hosts} /etc/hosts && echo ready && exec sleep infinity"],
            stdout=subprocess.PIPE, text=True)
        if self.holder.stdout.readline().strip() != "ready":
            raise RuntimeError("could not create the network+mount namespace (unshare needs root)")
        bin_dir = self.folder / "bin"  # `cl` for the host: cl's own script, run by a Python inside the namespace
        bin_dir.mkdir()
        (bin_dir / "python").write_text(f'#!/bin/sh\nexec {" ".join(self.enter(VENV / "bin" / "python"))} "$@"\n')
        script = (VENV / "bin" / "cl").read_text().split("\n", 1)[1]
        (bin_dir / "cl").write_text(f"#!{bin_dir / 'python'}\n{script}")
        for name in ("python", "cl"):
            (bin_dir / name).chmod(0o755)

    def spawn(self, name, command, env=None):
        log = open(self.folder / f"{name}.log", "w")
        process = subprocess.Popen(self.enter(*command), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env={**os.environ, "CODALAB_HOME": str(self.folder / "server"), **(env or {})})
        self.processes.append((name, process))
        return process

    def wait_for(self, what, test, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if test():
                return
            dead = [name for name, process in self.processes if process.poll() is not None]
            if dead:
                raise RuntimeError(f"{dead[0]} exited: {self.log_tail(dead[0])}")
            time.sleep(0.3)
        raise RuntimeError(f"{what} did not come up within {timeout} s")

    def log_tail(self, name, lines=15):
        path = self.folder / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.is_file() else ""

    def run(self, *command, env=None):
        done = subprocess.run(self.enter(*command), capture_output=True, text=True,
                              env={**os.environ, "CODALAB_HOME": str(self.folder / "server"), **(env or {})})
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {(done.stderr or done.stdout).strip()[-800:]}")
        return done.stdout

    # the parts ----------------------------------------------------------------------------------
    def start_database(self):
        data, cnf = self.folder / "mariadb", self.folder / "my.cnf"
        cnf.write_text(f"[mysqld]\ndatadir={data}\nsocket={self.folder}/mysqld.sock\nbind-address=127.0.0.1\n"
                       f"port={DB_PORT}\nuser=root\npid-file={self.folder}/mysqld.pid\nskip-log-bin\n"
                       "innodb_buffer_pool_size=32M\ninnodb_log_file_size=16M\nperformance_schema=OFF\n"
                       f"[client]\nsocket={self.folder}/mysqld.sock\nuser=root\n")
        subprocess.run(["mariadb-install-db", f"--defaults-file={cnf}", "--auth-root-authentication-method=socket",
                        "--skip-test-db"], check=True, capture_output=True)
        self.spawn("mariadb", ["mariadbd", f"--defaults-file={cnf}"])
        self.wait_for("MariaDB", lambda: (self.folder / "mysqld.sock").exists())
        self.db_password = secrets.token_hex(12)
        self.run("mariadb", f"--defaults-file={cnf}", "-e",
                 f"CREATE DATABASE codalab_bundles; CREATE USER 'codalab'@'127.0.0.1' IDENTIFIED BY '{self.db_password}';"
                 "GRANT ALL ON codalab_bundles.* TO 'codalab'@'127.0.0.1';")

    def write_config(self):
        home = self.folder / "server"
        home.mkdir()
        config = {"cli": {"default_address": self.url, "verbose": 1},
                  "server": {"rest_host": "127.0.0.1", "rest_port": REST_PORT, "class": "MySQLModel",
                             "engine_url": f"mysql://codalab:{self.db_password}@127.0.0.1:{DB_PORT}/codalab_bundles",
                             "auth": {"class": "RestOAuthHandler"}, "verbose": 1, "secret_key": secrets.token_hex(24)},
                  "ws-server": {"ws_port": WS_PORT}, "aliases": {"localhost": self.url},
                  "workers": {"default_cpu_image": self.image, "default_gpu_image": self.image}}
        (home / "config.json").write_text(json.dumps(config, indent=2))

    def rest_ready(self):
        probe = f"import urllib.request; urllib.request.urlopen('{self.url}/rest/users/{USER}', timeout=2)"
        return subprocess.run(self.enter(VENV / "bin" / "python", "-c", probe), capture_output=True).returncode == 0

    def start_worker(self):
        for suffix, internal in (("_ext", True),):  # the worker reuses it: bundles with network on stay on the host
            subprocess.run(["docker", "network", "create", *(["--internal"] if internal else []), self.prefix + suffix],
                           check=True, capture_output=True)
        self.networks = [self.prefix + suffix for suffix in ("_ext", "_general", "_int")]
        (self.folder / "worker.py").write_text(WORKER)
        (self.folder / "work").mkdir()
        self.spawn("worker", [VENV / "bin" / "python", self.folder / "worker.py", "--server", self.url,
                              "--ws-server", f"ws://127.0.0.1:{WS_PORT}", "--work-dir", self.folder / "work",
                              "--network-prefix", self.prefix, "--id", self.prefix, "--checkin-frequency-seconds", "2"],
                   env={"CODALAB_USERNAME": USER, "CODALAB_PASSWORD": self.password})

    def start(self):
        started = time.monotonic()
        mark = lambda step: self.timings.__setitem__(step, round(time.monotonic() - started, 1))  # noqa: E731
        self.start_namespace()
        self.start_database()
        mark("mariadb")
        self.write_config()
        self.run(VENV / "bin" / "python", next(VENV.glob("lib/python3.9/site-packages/scripts/create-root-user.py")),
                 self.password)
        mark("tables and root user")
        self.spawn("ws-server", [VENV / "bin" / "cl-ws-server", "--port", WS_PORT])
        self.spawn("rest-server", [VENV / "bin" / "cl-server"])
        # a worker silent for 30 s is offline (CodaLab's default is 60 s; the worker checks in every 2 s, every
        # 8 to 16 s on a slow machine busy with the rest of the suite: a shorter timeout flaps running bundles
        # offline, and a bundle offline while it finalizes loses its exit code: a failed run then ends `ready`)
        self.spawn("bundle-manager", [VENV / "bin" / "cl-bundle-manager", "--worker-timeout-seconds", "30"])
        self.wait_for("the REST server", self.rest_ready)
        mark("REST answering")
        self.start_worker()
        self.wait_for("the worker's check-in", lambda: "Successful check in" in self.log_tail("worker", 200))
        mark("worker checked in")
        self.log(f"CodaLab {self.url} ready in {self.timings['worker checked in']} s ({self.timings})")
        return self

    @property
    def env(self):
        """What a client (the adapter, `cl`) needs to use this server."""
        return {"PORTABILITY_CODALAB_CL": str(self.folder / "bin" / "cl"), "CODALAB_USERNAME": USER,
                "CODALAB_PASSWORD": self.password, "PORTABILITY_CODALAB_IMAGE": self.image,
                "PORTABILITY_CODALAB_WORKSHEET": f"{self.url}::portability", "PORTABILITY_CODALAB_MEMORY": "2g"}

    def memory_mb(self):
        """Resident memory of every process started (with their children), in MB."""
        total = 0
        for _, process in self.processes:
            for pid in [process.pid, *descendants(process.pid)]:
                try:
                    status = pathlib.Path(f"/proc/{pid}/status").read_text().splitlines()
                    rss = [line for line in status if line.startswith("VmRSS")]
                    total += int(rss[0].split()[1]) if rss else 0
                except OSError:
                    pass
        return round(total / 1024)

    def stop(self, grace=5):
        """Every process asked to end at once (SIGTERM), killed with its children after `grace` seconds."""
        family = [pid for _, process in self.processes for pid in descendants(process.pid)]
        for _, process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for _, process in self.processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pid in family:  # children of a process that had to be killed (gunicorn's workers)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for network in self.networks:  # the run containers on our networks, then the networks
            ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"network={network}"], capture_output=True,
                                 text=True).stdout.split()
            if ids:
                subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)
            subprocess.run(["docker", "network", "rm", network], capture_output=True)
        _remove_cache_tags(self.created)
        if self.holder is not None and self.holder.poll() is None:
            self.holder.kill()
            self.holder.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def _remove_cache_tags(since):
    """The worker tags each image it uses `codalab-image-cache/last-used:<time>`: untag ours (made since
    `since`); the images themselves stay."""
    listed = subprocess.run(["docker", "images", "codalab-image-cache/last-used", "--format", "{{.Tag}}"],
                            capture_output=True, text=True).stdout.split()
    ours = [f"codalab-image-cache/last-used:{tag}" for tag in listed
            if tag.replace(".", "", 1).isdigit() and float(tag) >= since]
    if ours:
        subprocess.run(["docker", "rmi", *ours], capture_output=True)


def descendants(pid):
    found = []
    for task in pathlib.Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found += [child, *descendants(child)]
    return found


def main():
    """`make codalab-server`: start the server, print how to use it, stop it on Ctrl-C."""
    needs = missing()
    if needs:
        sys.exit("cannot start the CodaLab server: missing " + "; ".join(needs))
    sys.path.insert(0, str(ROOT))
    from adapters import codalab_image

    server = GenuineCodaLab(codalab_image.build(log=print), password=os.environ.get("CODALAB_PASSWORD", "codalab"), log=print)
    try:
        server.start()
        print(f"memory: {server.memory_mb()} MB; logs in {server.folder}; to use it:")
        for key, value in server.env.items():
            print(f"export {key}={value}")
        print("Ctrl-C stops it and removes everything it created")
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        server.stop()


if __name__ == "__main__":
    main()


def server_fixture():
    """The body of the session fixture `codalab_server` (tests/test_codalab.py): builds the image offline,
    starts the server, yields it, stops it. Skips (fails in CI) where the machine cannot run it."""
    import pytest

    needs = missing()
    if needs:
        message = "the genuine CodaLab server cannot start here: missing " + "; ".join(needs)
        pytest.fail(message + " (.ci/run and make test install them)") if os.environ.get("CI") else pytest.skip(message)
    env = {**os.environ, "PORTABILITY_DOCKER_OFFLINE": "1"}
    for platform in ("docker", "codalab"):  # the offline base image, then the CodaLab image from it
        done = subprocess.run([str(pathlib.Path(sys.executable).parent / "portability"), "setup", platform],
                              capture_output=True, text=True, env=env, timeout=1800)
        assert done.returncode == 0, done.stderr[-3000:]
    image = (done.stdout + done.stderr).split("PORTABILITY_CODALAB_IMAGE=")[1].split()[0]
    server = GenuineCodaLab(image, password="codalab")
    try:
        yield server.start()
    finally:
        server.stop()
