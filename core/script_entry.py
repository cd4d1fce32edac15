"""The bundle's side of a researcher's own experiment: what a bundle's experiment.py does when its
config.json describes a script or notebook (`own_experiment`) instead of the built-in experiment.

    own = json.loads(config_text)["own_experiment"]
    script_entry.main(own, shim, bundle_folder, hook)

The user's file travels verbatim in the bundle (`own["script"]`, relative to the bundle's code). Each
--data item travels as the platform delivers data (a mount, an attached data set, a dependency, a
database); the shim's `script_inputs(items)` hook says where each item is on the platform, and
core/script.py lays it out at its DEST in the workspace, exactly as locally. Before anything runs the
files are checked against the hashes in config.json: a platform that delivered other data is a failed
run that says which file differs, never a result of another experiment.
"""

import pathlib

from core import script


def default_inputs(items):
    """Where each item is: its path on this machine (platforms that run here: local, trackers)."""
    return [item["source"] for item in items]


def spec_of(own, here, inputs):
    """The ScriptSpec the platform runs: the bundle's copy of the script, the items where they are."""
    data = [f"{path}:{item['dest']}" for path, item in zip(inputs, own["items"])]
    return script.ScriptSpec(script=str(pathlib.Path(here) / own["script"]), args=list(own["args"]), data=data,
                             metric=own["metric"], target_accuracy=own["target_accuracy"], seed=own["seed"])


def differences(expected, found):
    """What differs between the identity packaged and the one found on the platform, as a sentence."""
    if expected["script_sha256"] != found["script_sha256"]:
        return f"the script {found['script']} is not the one packaged"
    wanted = {entry["dest"]: entry["sha256"] for entry in expected["data"]}
    got = {entry["dest"]: entry["sha256"] for entry in found["data"]}
    changed = sorted(dest for dest in wanted.keys() | got.keys() if wanted.get(dest) != got.get(dest))
    if changed:
        return (f"the data the platform delivered differs from the data packaged at {', '.join(changed)}: "
                "push again to deliver the current files")
    return None if expected == found else "the run's settings differ from the ones packaged"


def main(own, shim, here, hook):
    """Run the user's experiment on this platform; results.json (and the script's outputs, under
    workspace/working) in the platform's output folder. The exit status: 0 completed, 1 otherwise."""
    out_dir = pathlib.Path(hook("output_folder")()).resolve()  # the script runs in another folder
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = spec_of(own, here, hook("script_inputs")(own["items"]))
    problem = differences(own["config"], script.check(spec).config())
    if problem:
        print(f"error: {problem}")
        return 1
    hook("before_script")(own, out_dir)
    loaders = hook("loader_data")(own)
    try:
        script.run(spec, out_dir, log=print, platform=shim.PLATFORM, data_dir=loaders.get("data_dir"),
                   allow_network=loaders.get("allow_network", True), extra=hook("run_details")())
        hook("after_script")(own, out_dir)
        code = 0
    except script.ScriptError as error:  # results.json is written: the run is recorded, failed
        print(f"error: {error}")
        code = 1
    hook("export_results")(out_dir)
    return code
