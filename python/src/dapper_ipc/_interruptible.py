"""Library calls that may block (connect retrying, wait_for_client, cleanup joining a busy
reader), made so that Ctrl-C on the main thread interrupts them.

Python runs signal handlers on the main thread only, between bytecodes: a library call that
blocks there would keep KeyboardInterrupt back until it returns, and the library's log
callback, run on that thread during connect, would receive it instead ("Exception
ignored"). So on the main thread blocking() runs the call on a short-lived worker thread
while the main thread waits for it interruptibly; on KeyboardInterrupt it hands the caller's
on_interrupt the Completion of the worker's call and re-raises. On other threads the call
is made directly.
"""

import threading
import _thread

from . import _native as native

WAIT_SLICE = 0.05  # the main thread's longest uninterruptible wait for a worker


def status_and_error(fn, *args):
    """Calls fn and returns (status, the exception for it or None); the exception is made
    on the calling thread, where the library keeps the message."""
    status = fn(*args)
    return status, (native.error_for(status) if status else None)


class Completion:
    """Set once, by the thread that finished; waited for on the main thread, where
    KeyboardInterrupt can land between any two bytecodes. threading.Event (and Thread.start
    and join, which use it) cannot be waited on there: Condition.wait has a point where
    its lock is let go and not yet under try/finally, and an interrupt there comes out as
    RuntimeError("release unlocked lock"), or leaves the lock held for ever. Here done is
    set before the lock is released, so an acquire that an interrupt cut short can only
    leave behind a lock nobody needs any more."""

    __slots__ = ("done", "_lock")

    def __init__(self):
        self.done = False
        self._lock = _thread.allocate_lock()
        self._lock.acquire()

    def set(self):
        self.done = True
        self._lock.release()

    def wait(self, timeout):
        if self.done:
            return True
        if self._lock.acquire(True, timeout):
            self._lock.release()  # for the next waiter
        return self.done


def blocking(fn, on_interrupt, finish=False):
    """fn() (library calls that may block), so that Ctrl-C interrupts it: see the
    module's docstring. on_interrupt(done) runs after KeyboardInterrupt on the main
    thread; done is the Completion set when fn has returned. An interrupted fn that had
    not begun never runs, unless finish: then it runs all the same, on a worker (a
    cleanup must happen, whenever the signal landed)."""
    if threading.current_thread() is not threading.main_thread():
        return fn()
    # KeyboardInterrupt can land between any two bytecodes here, so the main thread
    # waits on bare locks only (Completion). The gate tells an interrupted main thread
    # whether fn began; if not, it never will.
    outcome, completion, gate = [], Completion(), _thread.allocate_lock()
    flags = [False, False]  # cancelled, began

    def call():
        try:
            outcome.append((fn(), None))
        except BaseException as error:  # handed to the caller
            outcome.append((None, error))
        finally:
            completion.set()

    def run():
        with gate:
            if flags[0]:
                return
            flags[1] = True
        call()

    try:
        try:
            _thread.start_new_thread(run, ())
        except RuntimeError:  # no new threads (interpreter shutdown): block here
            with gate:
                flags[0] = True
            return fn()
        # On POSIX a signal handler runs at once in a lock acquire and may raise; the
        # slices bound the delay where an acquire is not interrupted.
        while not completion.wait(WAIT_SLICE):
            pass
    except KeyboardInterrupt:
        # Wherever the signal landed, even before the worker began, the call is ended
        # and the manager cleaned up the same way.
        with gate:
            flags[0] = True
            began = flags[1]
        if not began:
            if finish:
                # The first worker, if it was started at all, will find itself cancelled.
                try:
                    _thread.start_new_thread(call, ())
                except RuntimeError:  # no new threads (interpreter shutdown)
                    call()
            else:
                completion.set()  # fn never runs: nothing to wait for
        on_interrupt(completion)
        raise
    result, error = outcome[0]
    if error is not None:
        raise error
    return result
