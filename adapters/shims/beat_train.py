"""The BEAT training block: the portability experiment (the `bundle` library: the core, the entry and
the BEAT shim) on the database's train and test samples, with the experiment's block parameters as
the config. Its output is the run: results.json, both models and the log, as text."""

import base64
import contextlib
import io
import pathlib
import runpy
import sys


class Algorithm:
    def setup(self, parameters):
        self.parameters = dict(parameters)
        return True

    def process(self, data_loaders, outputs):
        train, _, end = data_loaders.loaderOf("train")[0]
        test = data_loaders.loaderOf("test")[0][0]
        folder = bundle.unpack()  # noqa: F821 (the library, declared in `uses`)
        sys.path.insert(0, str(folder))
        import shim

        shim.BLOCK.update(parameters=self.parameters, train=train["train"], test=test["test"],
                          database=self.parameters.get("database"))
        out = folder / "output"
        log = io.StringIO()
        argv = sys.argv
        with contextlib.redirect_stdout(log):
            sys.argv = [str(folder / "experiment.py"), str(out)]
            try:
                runpy.run_path(sys.argv[0], run_name="__main__")
            except SystemExit as stop:
                if stop.code:
                    raise RuntimeError(f"the experiment stopped: {stop.code}") from None
            finally:
                sys.argv = argv
        outputs["run"].write({"results_json": (out / "results.json").read_text(), "log": log.getvalue(),
                              "model_h5": encoded(out / "model.h5"), "model_keras": encoded(out / "model.keras")}, end)
        return True


def encoded(path):
    path = pathlib.Path(path)
    return base64.b64encode(path.read_bytes()).decode() if path.is_file() else ""
