"""Local: the bundle runs in a detached subprocess, in a clean working folder of its run. Nothing to
install."""

from adapters.base import Adapter
from adapters.trains_here import TrainsHere


class LocalAdapter(TrainsHere, Adapter):
    name = "local"
