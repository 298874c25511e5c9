"""A process drawing figures while the report goes on: the second core draws, the first computes.

Most of a build is one thread, and matplotlib holds the GIL while it draws, so a thread would not help: the
report starts one fresh Python process (``python -P -c ...`` running ``sdtmgen.report.worker.main``, which
imports only numpy and matplotlib through ``sdtmgen.report.draw``, ~65 MiB), sends it the plain specs of the figures as they are
ready (a few arrays per figure, never a data frame) and collects the PNG bytes before the page is written.
The bytes are those ``draw`` gives in the report's own process.

Errors: a figure the worker cannot draw is raised in the report as a ``FigureError`` naming the figure, with
the worker's traceback; a worker that dies fails the figures still waiting (``FigureError`` with its exit
code and last lines of stderr); a worker that cannot be started leaves the drawing to the report's process.
The worker ends when the report closes it (its input is closed; killed if it has not ended within a few
seconds), also on an error or an interrupt in the report (killed at once), and by itself when the report's
process goes away (end of its input). Ctrl-C reaches the whole process group: the worker ignores it and is
stopped by the report.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import Future
from typing import Any, BinaryIO


_NUMPY_MODULES = frozenset({"numpy", "numpy.core.multiarray", "numpy._core.multiarray", "numpy.core.numeric",
                            "numpy._core.numeric"})
_NUMPY_NAMES = frozenset({"_reconstruct", "_frombuffer", "ndarray", "dtype", "scalar"})


class _Unpickler(pickle.Unpickler):
    """Reads the pipe between the report and its worker: plain values and numpy arrays only.

    Both ends are this build's own processes and nothing on the pipe comes from a file, but a stream that
    named any other class (code to run on loading) is refused rather than trusted."""

    def find_class(self, module: str, name: str) -> Any:
        if module in _NUMPY_MODULES and name in _NUMPY_NAMES:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not sent between the report and its worker")


class FigureError(RuntimeError):
    """A figure could not be drawn (the worker's traceback or its end is in the message)."""


class InlinePainter:
    """Draws each figure at once in this process (``draw``), with the worker's interface."""

    def submit(self, kind: str, spec: dict, name: str = "") -> Future:
        from sdtmgen.report.draw import DRAW

        future: Future = Future()
        future.set_result(DRAW[kind](spec))
        return future

    def close(self) -> None:
        pass

    def __enter__(self) -> "InlinePainter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FigureWorker:
    """The worker process and the figures it was given (``submit`` -> a Future of the PNG bytes)."""

    STOP_SECONDS = 10.0

    def __init__(self) -> None:
        self._stderr = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen([sys.executable, "-P", "-c", _START.format(root=repr(_root()))],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr)
        except BaseException:
            self._stderr.close()
            raise
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._to: BinaryIO = self._proc.stdin
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[str, Future]] = {}
        self._next = 0
        self._ended: str | None = None
        self._reader = threading.Thread(target=self._read, args=(self._proc.stdout,), name="figure-worker",
                                        daemon=True)
        self._reader.start()

    def submit(self, kind: str, spec: dict, name: str = "") -> Future:
        future: Future = Future()
        with self._lock:
            if self._ended is not None:
                future.set_exception(FigureError(f"{name or kind}: {self._ended}"))
                return future
            job = self._next
            self._next += 1
            self._pending[job] = (name or kind, future)
        try:
            pickle.dump((job, kind, spec), self._to, protocol=pickle.HIGHEST_PROTOCOL)
            self._to.flush()
        except (BrokenPipeError, OSError, ValueError):
            self._fail_pending()
        return future

    def _read(self, stream: BinaryIO) -> None:
        while True:
            try:
                job, ok, payload = _Unpickler(stream).load()
            except (EOFError, OSError, pickle.UnpicklingError):
                self._fail_pending()
                return
            with self._lock:
                name, future = self._pending.pop(job)
            if ok:
                future.set_result(payload)
            else:
                future.set_exception(FigureError(f"{name} could not be drawn (figure worker):\n{payload}"))

    def _fail_pending(self) -> None:
        """The worker is gone: the figures still waiting fail, naming its exit code and last words."""
        with self._lock:
            if not self._pending and self._to.closed:
                self._ended = "the figure worker was stopped"
                return  # closed by the report, nothing lost
        try:
            code: int | None = self._proc.wait(self.STOP_SECONDS)
        except subprocess.TimeoutExpired:
            code = None
        try:
            self._stderr.seek(0)
            tail = self._stderr.read().decode("utf-8", "replace").strip().splitlines()[-5:]
        except (OSError, ValueError):
            tail = []
        why = f"the figure worker ended (exit code {code})" + (":\n" + "\n".join(tail) if tail else "")
        with self._lock:
            self._ended = why
            pending, self._pending = self._pending, {}
        for name, future in pending.values():
            if not future.done():
                future.set_exception(FigureError(f"{name}: {why}"))

    def close(self, kill: bool = False) -> None:
        """Stop the worker (``kill``: at once) and wait for it; what it has not drawn fails. Idempotent."""
        if kill and self._proc.poll() is None:
            self._proc.kill()
        if not self._to.closed:
            try:
                self._to.close()  # end of input: the worker ends after the figure it is drawing
            except OSError:
                pass
        try:
            self._proc.wait(self.STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._reader.join(self.STOP_SECONDS)
        self._stderr.close()

    def __enter__(self) -> "FigureWorker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(kill=exc[0] is not None)  # the report failed: what the worker draws is not wanted


#: the worker's start: this sdtmgen found last on the import path (a checkout run uninstalled), never before
#: the standard library; ``-P``: no current folder on the path either
_START = "import sys; sys.path.append({root}); from sdtmgen.report.worker import main; main()"


def _root() -> str:
    """The folder holding this sdtmgen package."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def painter(worker: bool = True) -> FigureWorker | InlinePainter:
    """A figure worker, or drawing in this process when ``worker`` is False or no process can be started."""
    if worker:
        try:
            return FigureWorker()
        except OSError:
            pass
    return InlinePainter()


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """The worker's loop: (job, kind, spec) in, (job, True, PNG bytes) or (job, False, traceback) out."""
    import traceback

    from sdtmgen.report.draw import DRAW

    while True:
        try:
            job, kind, spec = _Unpickler(stdin).load()
        except EOFError:
            return
        try:
            reply: tuple[int, bool, Any] = (job, True, DRAW[kind](spec))
        except Exception:  # noqa: BLE001 - sent to the report, which raises it as a FigureError
            reply = (job, False, traceback.format_exc())
        pickle.dump(reply, stdout, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.flush()


def main() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the process group: the report stops us
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # anything a library prints must not mix with the replies
    import matplotlib.backends.backend_agg  # noqa: F401 - warm before the first figure arrives
    import matplotlib.figure  # noqa: F401

    serve(stdin, stdout)


if __name__ == "__main__":
    main()
