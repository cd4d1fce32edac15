"""The emulation is as strict as the platform: a Kaggle kernel, a CodaLab run without network and the
offline Docker container cannot reach any server, not even one on this machine's loopback; a platform
that needs the network (a tracker) can."""

import json
import sys

import pytest

import adapters
from adapters import emulation
from tests.standin import LoopbackServer, QuietHandler

PROBE = ("import sys, urllib.request\n"
         "try:\n"
         "    print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())\n"
         "except OSError as error:\n"
         "    print('unreachable:', type(error).__name__)\n")


class Hello(LoopbackServer):
    def make_handler(self):
        class Handler(QuietHandler):
            def do_GET(self):
                self.reply(200, {"hello": "from the host"})

        return Handler


@pytest.mark.parametrize("name, reachable", [("kaggle", False), ("codalab", False), ("docker", False),
                                             ("local", True), ("comet", True), ("openml", True)])
def test_a_bundle_reaches_a_server_only_if_its_platform_gives_network(name, reachable, tmp_path):
    adapter = adapters.get(name)
    assert adapter.network is reachable
    with Hello() as server:
        box = emulation.Sandbox(argv=[sys.executable, "-c", PROBE, server.url], cwd=str(tmp_path),
                                network=adapter.network, env=emulation.environment())
        done = __import__("subprocess").run(box.command(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    if reachable:
        assert json.loads(done.stdout) == {"hello": "from the host"}
    else:
        assert done.stdout.startswith("unreachable: URLError"), done.stdout


def test_codalab_with_network_requested_gets_it(monkeypatch):
    monkeypatch.setenv("PORTABILITY_CODALAB_NETWORK", "on")
    assert adapters.get("codalab").network is True
