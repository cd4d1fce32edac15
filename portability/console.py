"""What the command line prints: the user's lines on stderr (redacted), TensorFlow's native log
lines kept out of the way."""

import atexit
import os
import re
import sys
import threading

from core import redact

# TensorFlow's C++ log lines (absl format), some written before any setting can silence them
NATIVE_LOG = re.compile(rb"^(?:[IWEF]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] |"
                        rb"WARNING: All log messages before absl::InitializeLog\(\) is called)")


def say(*parts):
    print(*(redact.redact(str(part)) for part in parts), file=sys.stderr, flush=True)


def quiet_tensorflow(verbose=False):
    """Show the experiment's lines and Keras' progress, not TensorFlow's native log lines (oneDNN notes,
    NodeDef errors that are not errors); `verbose` keeps everything."""
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    saved = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump():
        with os.fdopen(read_end, "rb") as source, os.fdopen(os.dup(saved), "wb", buffering=0) as target:
            for line in source:
                if not NATIVE_LOG.match(line):
                    target.write(line)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()

    def restore():
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last writer: the pump drains it and ends
        thread.join(timeout=5)

    atexit.register(restore)
