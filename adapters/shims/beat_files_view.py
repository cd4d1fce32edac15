"""The BEAT database view of your own script's --data items: every file of every item as one data unit
(the item's name, the file's path in it, "." for an item that is one file, and its bytes), read from the
database's root folder, which holds each item under its name."""

import collections
import json
import os

import numpy

from beat.backend.python.database import View


class Files(View):
    def index(self, root_folder, parameters):
        Entry = collections.namedtuple("Entry", ["file", "item", "path"])  # `file`: the output's data unit
        return [Entry(number, item, path) for number, (item, path) in enumerate(json.loads(parameters["files"]))]

    def get(self, output, index):
        entry = self.objs[index]
        path = os.path.join(self.root_folder, entry.item, *([] if entry.path == "." else entry.path.split("/")))
        with open(path, "rb") as stream:
            content = stream.read()
        return {"item": entry.item, "path": entry.path, "content": numpy.frombuffer(content, numpy.uint8)}
