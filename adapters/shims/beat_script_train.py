"""The BEAT training block of your own script: the database's files (every --data item) handed to the
`bundle` library (your script verbatim, the core, the entry and the BEAT shim), which runs the script
unmodified as on every platform. Its output is the run: results.json, the log and the files the script
wrote in its working folder (as JSON {path: base64}), also when the script failed (its traceback is in
results.json)."""

import base64
import contextlib
import io
import json
import runpy
import shutil
import sys


class Algorithm:
    def setup(self, parameters):
        self.parameters = dict(parameters)
        return True

    def process(self, data_loaders, outputs):
        loader, files, end = data_loaders.loaderOf("files"), [], 0
        for index in range(loader.count()):
            unit, _, end = loader[index]
            files.append((unit["files"].item, unit["files"].path, unit["files"].content.tobytes()))
        folder = bundle.unpack()  # noqa: F821 (the library, declared in `uses`)
        sys.path.insert(0, str(folder))
        import shim

        shim.BLOCK.update(parameters=self.parameters, files=files, database=self.parameters.get("database"))
        out, log, argv = folder / "output", io.StringIO(), sys.argv
        with contextlib.redirect_stdout(log):
            sys.argv = [str(folder / "experiment.py"), str(out)]
            try:
                runpy.run_path(sys.argv[0], run_name="__main__")
            except SystemExit:  # 1: the script failed, and its results.json says how
                pass
            finally:
                sys.argv = argv
        if not (out / "results.json").is_file():
            raise RuntimeError("your script's run wrote no results.json; its log:\n" + log.getvalue()[-3000:])
        results = json.loads((out / "results.json").read_text())
        written = {item["path"]: base64.b64encode((out / "workspace" / "working" / item["path"]).read_bytes()).decode()
                   for item in (results.get("artifacts") or {}).get("outputs") or []}
        outputs["run"].write({"results_json": json.dumps(results), "log": log.getvalue(),
                              "outputs": json.dumps(written)}, end)
        shutil.rmtree(folder, ignore_errors=True)  # the unpacked bundle and the data's copies: all is in the output
        return True
