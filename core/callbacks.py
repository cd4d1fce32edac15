"""The Keras callbacks of training: one history row per epoch, the training loss and accuracy after
every step chunk, and Ctrl-C that stops between steps. None of them changes what is trained."""

import contextlib
import signal
import sys
import threading
import time


class EpochLog:
    """Collects one history row per epoch, across the training phases."""

    def __init__(self, keras):
        self.rows = []
        self.phase = "train"
        outer = self

        class Callback(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.started, self.validating = time.perf_counter(), 0.0

            def on_test_begin(self, logs=None):  # the validation pass at the end of an epoch
                self.test_started = time.perf_counter()

            def on_test_end(self, logs=None):
                self.validating += time.perf_counter() - self.test_started

            def on_epoch_end(self, epoch, logs=None):
                row = {k: float(v) for k, v in (logs or {}).items()}
                row.update(epoch=len(outer.rows) + 1, phase=outer.phase,
                           learning_rate=float(self.model.optimizer.learning_rate.numpy()),
                           seconds=round(time.perf_counter() - self.started, 3),
                           validation_seconds=round(self.validating, 3))
                outer.rows.append(row)

        self.callback = Callback()


class History(list):
    """The epoch rows (a list, as results.json holds them), with the step-chunk rows as `.steps`."""

    steps = ()


class StepLog:
    """One row per step chunk (`steps_per_execution` steps, the most often Keras calls back): the global
    step, the epoch and how far into it, and Keras' running means of loss and accuracy since the epoch
    began. It only reads the logs Keras hands over: the weights are the same with or without it."""

    def __init__(self, keras, epochs):
        self.rows = []
        outer, self.epoch = self, 0
        self.done = 0  # steps of the epochs already finished

        class Callback(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                outer.epoch += 1

            def on_train_batch_end(self, batch, logs=None):
                steps = (self.params or {}).get("steps") or 0
                seen = min(batch + 1, steps) if steps else batch + 1  # Keras counts a last short chunk as full
                row = {k: round(float(v), 6) for k, v in (logs or {}).items() if k in ("loss", "accuracy")}
                row.update(step=outer.done + seen, epoch=outer.epoch, phase=epochs.phase,
                           epoch_fraction=round(seen / steps, 6) if steps else None)
                outer.rows.append(row)

            def on_epoch_end(self, epoch, logs=None):
                outer.done = outer.rows[-1]["step"] if outer.rows else outer.done

        self.callback = Callback()


@contextlib.contextmanager
def stop_at_a_step(keras):
    """Ctrl-C during training: the first stops it at the end of the current step (a callback sets
    `model.stop_training`, which Keras reads between steps), a second aborts at once. Then
    KeyboardInterrupt, so a stopped run is recorded interrupted, never a result. (Raised inside `fit`,
    it once aborted TensorFlow: `free(): invalid next size`.) Yields the callback, or None where
    SIGINT is not Python's to handle (another thread, a kernel, a shell that ignores it)."""
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield None
        return
    asked = threading.Event()

    class Stop(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.model.stop_training = self.model.stop_training or asked.is_set()

    def first(signum, frame):
        if asked.is_set():
            signal.default_int_handler(signum, frame)
        asked.set()
        print("interrupted: stopping at the end of this step (Ctrl-C again to abort)", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield Stop(), asked
    finally:
        signal.signal(signal.SIGINT, previous)
    if asked.is_set():
        raise KeyboardInterrupt
