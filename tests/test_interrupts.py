"""SIGINT at several points of a run and of a push: afterwards `status`, `report` and a rerun all work,
and nothing incomplete is shown as a result."""

import json
import os
import signal
import subprocess
import time

import pytest

from tests.conftest import BIN, ROOT, default_sigint, portability

TINY = ["--model", "1-layer", "--epochs", "6", "--batch-size", "16", "--target-accuracy", "0.5"]


def interrupt_when(command, marker, env, timeout=300):
    """Start `command`, send SIGINT once a line containing `marker` appears; its exit code and output."""
    # unbuffered: Keras' epoch lines go to stdout, which a pipe would otherwise hold back to the end
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, preexec_fn=default_sigint)
    lines, deadline = [], time.monotonic() + timeout
    for line in process.stdout:
        lines.append(line)
        if marker in line:
            process.send_signal(signal.SIGINT)
            break
        assert time.monotonic() < deadline, "".join(lines)
    lines += process.stdout.readlines()
    return process.wait(timeout=timeout), "".join(lines)


def assert_store_is_sound(env, tmp_path):
    status = portability("status", env=env)
    assert status.returncode == 0 and "Traceback" not in status.stderr, status.stderr
    report = portability("report", "--out", tmp_path / "report", env=env)
    assert report.returncode == 0 and "Traceback" not in report.stderr, report.stderr
    return status.stdout, report


@pytest.mark.parametrize("marker", ["data: ", "model: ", "Epoch 2/6"])
def test_sigint_during_a_run(marker, tiny_npz, tmp_path):
    env = {"PORTABILITY_RUNS_DIR": str(tmp_path / "runs")}
    code, output = interrupt_when([str(BIN / "portability"), "run", "--dataset", str(tiny_npz), *TINY], marker, env)
    assert code == 130 and "interrupted" in output and "Traceback" not in output, output
    if marker.startswith("Epoch"):  # stopped between steps by the callback, not inside TensorFlow
        assert "stopping at the end of this step" in output and "Epoch 6/6" not in output, output
    assert not list((tmp_path / "runs" / "local").glob("*/results.json"))  # never a result
    status, report = assert_store_is_sound(env, tmp_path)
    assert "failed" in status and "completed" not in status
    assert "local    failed, no result" in report.stdout  # never shown as a result
    again = portability("run", "--dataset", tiny_npz, *TINY, "--quiet", env=env)
    assert again.returncode == 0, again.stderr
    status, report = assert_store_is_sound(env, tmp_path)
    assert status.count("completed") == 1 and status.count("failed") == 1
    assert "local    executed" in report.stdout


def test_a_run_stopped_while_saving_its_model_is_no_result(tiny_config, tmp_path, monkeypatch):
    from core import experiment

    def stopped(*args):
        raise KeyboardInterrupt  # as Ctrl-C lands while the model is being written

    monkeypatch.setattr(experiment, "save_models", stopped)
    monkeypatch.setattr(experiment, "save_models_safely", lambda keras, model, sample, out_dir: stopped())
    with pytest.raises(KeyboardInterrupt):
        experiment.run(tiny_config, tmp_path / "runs" / "local" / "stopped", verbose=0, log=lambda m: None)
    results = json.loads((tmp_path / "runs" / "local" / "stopped" / "results.json").read_text())
    assert results["artifacts"] == {"status": "saving"}
    env = {"PORTABILITY_RUNS_DIR": str(tmp_path / "runs")}
    status, report = assert_store_is_sound(env, tmp_path)
    assert "stopped while saving its model" in report.stderr and "local    executed" not in report.stdout


@pytest.mark.parametrize("marker", ["pushed as", "run: local/"])  # just submitted; following the run
def test_sigint_during_a_push_then_the_push_resumes(marker, tiny_npz, tmp_path):
    env = {"PORTABILITY_RUNS_DIR": str(tmp_path / "runs")}
    command = [str(BIN / "portability"), "push", "local", "--wait", "--dataset", str(tiny_npz), *TINY]
    code, output = interrupt_when(command, marker, env)
    assert code == 130 and "Traceback" not in output, output
    assert_store_is_sound(env, tmp_path)
    resumed = portability("push", "local", "--wait", "--dataset", tiny_npz, *TINY, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert "already pushed" in resumed.stderr and "[executed on local]" in resumed.stdout
    assert len(list((tmp_path / "runs" / "local").iterdir())) == 1  # no duplicate platform run
    status, report = assert_store_is_sound(env, tmp_path)
    assert "pulled" in status and "local    executed" in report.stdout


def test_the_first_ctrl_c_stops_between_steps_and_the_second_aborts():
    """The handler `train` installs: the first SIGINT only asks (the callback sets model.stop_training at
    the next step's end), a second raises at once, and leaving the block raises KeyboardInterrupt."""
    from core import experiment, keras_import

    keras, _ = keras_import.import_keras()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a shell that does not ignore it
    try:
        _stop_twice(experiment, keras)
    finally:
        signal.signal(signal.SIGINT, previous)


def _stop_twice(experiment, keras):
    with pytest.raises(KeyboardInterrupt):
        with experiment.stop_at_a_step(keras) as (callback, asked):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.1)  # delivered between bytecodes: nothing raised, the flag set
            assert asked.is_set()

            class Model:
                stop_training = False

            callback.set_model(Model())
            callback.on_train_batch_end(0)
            assert callback.model.stop_training
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
