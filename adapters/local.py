"""Local: the bundle runs in a detached subprocess, in a clean working folder of its run. Nothing to
install."""

from adapters.base import Adapter
from adapters.trains_here import TrainsHere


class LocalAdapter(TrainsHere, Adapter):
    name = "local"

    def check_online(self, timeout=10.0):
        from adapters import online

        return online.Online(True, "works: runs here, nothing to sign in to")
