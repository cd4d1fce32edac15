"""Your own notebook as a platform's notebook kernel (Kaggle): the user's cells, unmodified, between two
harness cells that run in the same kernel. The first unpacks the bundle and calls `begin`, which does what
core/script_entry.py does before a script runs (the --data items found where the platform put them and
checked against the packaged hashes, laid out at their DEST, the auto-logging hooks installed) and makes
working/ the kernel's current folder; the last calls `finish`, which writes results.json. A user cell that
raises ends the run there (the platform stops the notebook): its record is written at once, failed, with
the cell's own traceback tail.

    run = script_kernel.begin(own, shim, here, hook)     # first harness cell
    ...the user's cells...
    run.finish()                                         # last harness cell
"""

import os
import pathlib
import time
import traceback

from core import script, script_entry


class KernelRun:
    """One notebook run in this kernel: what `finish` needs to write the record."""

    def __init__(self, checked, out_dir, own, hook, recorder, platform):
        self.checked, self.out_dir, self.own, self.hook = checked, out_dir, own, hook
        self.recorder, self.platform, self.started = recorder, platform, time.perf_counter()
        self.home, self.done = os.getcwd(), False

    def finish(self, failure=None):
        """results.json (and the platform's export); raises SystemExit(1) when the run gave no result,
        so that the platform marks the notebook failed."""
        if self.done:
            return
        self.done = True
        record = self.recorder.finish()
        os.chdir(self.home)
        try:
            script.conclude(self.checked, self.out_dir, record, failure, time.perf_counter() - self.started, self.platform)
            self.hook("after_script")(self.own, self.out_dir)
            code = 0
        except script.ScriptError as error:
            print(f"error: {error}")
            code = 1
        self.hook("export_results")(self.out_dir)
        if code:
            raise SystemExit(code)

    def after_cell(self, result):
        """IPython's post_run_cell: a user cell that raised is the run's failure, recorded now."""
        error = getattr(result, "error_in_exec", None)
        if error is None or self.done or isinstance(error, SystemExit):
            return
        frames = traceback.format_exception(type(error), error, error.__traceback__)
        tail = "".join(frames).rstrip("\n").splitlines()[-20:]
        what = f"{type(error).__name__}: {error}".splitlines()[0] + " in a code cell"
        try:
            self.finish(script.failure_message(self.checked.path.name, what, tail))
        except SystemExit:
            pass  # the platform already stops the notebook at the failed cell


def begin(own, shim, here, hook):
    """Before the user's cells: check and lay out the inputs, install the hooks, enter working/."""
    from core import capture

    out_dir = pathlib.Path(hook("output_folder")()).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = script_entry.spec_of(own, here, hook("script_inputs")(own["items"]))
    problem = script_entry.differences(own["config"], script.check(spec).config())
    if problem:
        raise SystemExit(f"error: {problem}")
    hook("before_script")(own, out_dir)
    loaders = hook("loader_data")(own)
    checked, out_dir, working = script.prepare(spec, out_dir, log=print)
    recorder = capture.install(seed=spec.seed, data_dir=loaders.get("data_dir"),
                               allow_network=loaders.get("allow_network", True), log=lambda message: None)
    platform = dict(name=shim.PLATFORM, obtained=os.environ.get("PORTABILITY_OBTAINED", "executed"), **hook("run_details")())
    run = KernelRun(checked, out_dir, own, hook, recorder, platform)
    os.chdir(working)
    try:
        get_ipython().events.register("post_run_cell", run.after_cell)  # noqa: F821 (IPython's builtin)
    except NameError:
        pass  # not in IPython: the last cell still writes the record
    return run
