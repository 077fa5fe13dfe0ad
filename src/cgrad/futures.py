"""cgrad.futures: PyTorch's Future, the result of a call that may finish later.

cgrad runs every call eagerly, so the futures it hands out (cgrad.jit.fork)
are complete when returned; a Future made by hand completes when someone calls
set_result or set_exception, possibly on another thread, and wait() blocks
until then.
"""
import logging
import threading

__all__ = ["Future", "collect_all", "wait_all"]


class Future:
    """A value (or an exception) that becomes available once; callbacks run when it does."""

    def __init__(self, *, devices=None):
        self._done = threading.Condition()
        self._completed = False
        self._value = None
        self._error = None
        self._callbacks = []

    def done(self):
        """Whether the Future has a value or an exception."""
        return self._completed

    def wait(self):
        """Block until the Future completes; its value, or raise its exception."""
        with self._done:
            self._done.wait_for(lambda: self._completed)
        if self._error is not None:
            raise self._error
        return self._value

    def value(self):
        """The value of a completed Future (its exception is raised); an incomplete one raises RuntimeError."""
        if not self._completed:
            raise RuntimeError("Future.value() needs a completed Future; call wait() to block until it completes")
        return self.wait()

    def _complete(self, value, error):
        with self._done:
            if self._completed:
                raise RuntimeError("Attempting to mark a completed Future as complete again. Note that a Future can "
                                   "only be marked completed once.")
            self._value, self._error, self._completed = value, error, True
            self._done.notify_all()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:  # one that raises is logged, and the others still run, as PyTorch's
            try:
                callback(self)
            except Exception:  # noqa: BLE001
                logging.getLogger(__name__).exception("a Future's callback raised")

    def set_result(self, result):
        """Complete the Future with result, then run its callbacks."""
        self._complete(result, None)

    def set_exception(self, result):
        """Complete the Future with an exception, raised by wait() and value()."""
        if not isinstance(result, BaseException):
            raise AssertionError(f"{result} is of type {type(result)}, not an Exception.")
        self._complete(None, result)

    def add_done_callback(self, callback):
        """Run callback(self) when the Future completes (now, if it has)."""
        with self._done:
            if not self._completed:
                self._callbacks.append(callback)
                return
        callback(self)

    def then(self, callback):
        """A new Future completed with callback(self) once this one completes."""
        chained = Future()

        def run(fut):
            try:
                result = callback(fut)
            except Exception as exc:
                error = RuntimeError(f"Got the following error when running the callback: {type(exc).__name__}: "
                                     f"{exc}")
                error.__cause__ = exc
                chained.set_exception(error)
            else:
                chained.set_result(result)

        self.add_done_callback(run)
        return chained


def collect_all(futures):
    """A Future completed with the list of futures once all of them complete."""
    combined = Future()
    remaining = [len(futures)]
    lock = threading.Lock()

    def one_done(_):
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            combined.set_result(list(futures))

    if not futures:
        combined.set_result([])
    for fut in futures:
        fut.add_done_callback(one_done)
    return combined


def wait_all(futures):
    """The values of futures, waiting for each; the first exception met is raised."""
    return [fut.wait() for fut in futures]
