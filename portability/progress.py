"""A sweep's live line: done / running / failed / left, elapsed and an estimate."""

import sys
import time


class Progress:
    """One live line: done / running / failed / left, elapsed and an estimate; a new line only on
    change when the output is not a terminal."""

    def __init__(self, name, total, skipped, parallel, stream=sys.stderr):
        self.name, self.total, self.skipped, self.parallel, self.stream = name, total, skipped, parallel, stream
        self.started, self.ended, self.last = time.monotonic(), 0, None

    def line(self, done, running, failed):
        left = self.total - done - failed - running
        elapsed = time.monotonic() - self.started
        text = (f"sweep {self.name}: {done} done ({self.skipped} skipped), {running} running, {failed} failed, "
                f"{left} left, {_duration(elapsed)} elapsed")
        if self.ended and left + running:  # the pace so far, which already counts the workers
            text += f", about {_duration(elapsed / self.ended * (left + running))} to go"
        return text

    def show(self, done, running, failed):
        text = self.line(done, running, failed)
        if self.stream.isatty():
            self.stream.write("\r" + text.ljust(100)[:160])
            self.stream.flush()
        elif text.split(", ")[:4] != (self.last or "").split(", ")[:4]:
            print(text, file=self.stream, flush=True)
        self.last = text

    def finish(self):
        if self.stream.isatty():
            self.stream.write("\n")


def _duration(seconds):
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"
