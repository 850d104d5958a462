"""Worker processes that die with their parent: no orphans after ``kill -9`` of a sweep.

A :class:`~concurrent.futures.ProcessPoolExecutor` worker waits on a queue whose write
end it holds itself, so when the driver is killed with SIGKILL nothing tells the worker,
and it lives on (reparented to init) for as long as its queue stays open: forever.
:func:`install`, run as the pool's ``initializer``, ties the worker to its parent twice:

- on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills the worker the moment
  its parent dies;
- everywhere, a daemon thread that checks :func:`os.getppid` every ``interval`` seconds
  and calls :func:`os._exit` once the parent is no longer the original one (the kernel
  reparents an orphan), which also covers a parent that died before the worker got as far
  as the ``prctl`` call.

Linux sends the parent-death signal when the *thread* that started the worker ends, not
only the process: start the workers from a thread that outlives the pool (``executor()``
in :mod:`workbench.sweep` starts them all from the thread entering it).

The multiprocessing resource tracker needs nothing: it exits by itself once every
process holding its pipe (the driver and the workers) is gone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading

__all__ = ["THREAD_NAME", "install"]

_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15

THREAD_NAME = "wb-lifeline"
"""Name of the watching thread (on Linux also its kernel name, ``/proc/<pid>/task/*/comm``)."""


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def _die_with_parent(libc: ctypes.CDLL | None) -> bool:
    """Ask the kernel for SIGKILL when the parent dies; whether it agreed."""
    if libc is None:
        return False
    return libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0


def _watch(parent: int, interval: float, libc: ctypes.CDLL | None) -> None:
    if libc is not None:  # a kernel-visible name, so tests and ps can see the watch is on
        libc.prctl(_PR_SET_NAME, THREAD_NAME.encode(), 0, 0, 0)
    while True:
        if os.getppid() != parent:
            os._exit(1)
        threading.Event().wait(interval)


def install(parent: int, interval: float = 0.5) -> None:
    """Make this process exit when ``parent`` dies (a process pool's ``initializer``).

    Parameters
    ----------
    parent : int
        Process id of the parent, taken in the parent (``os.getpid()`` when building
        the pool), so a parent that died before this runs is noticed at once.
    interval : float
        Seconds between two checks of :func:`os.getppid` by the watching thread.

    Notes
    -----
    On Linux the kernel also sends SIGKILL at the parent's death
    (``PR_SET_PDEATHSIG``); the watching thread is the portable fallback. Either way the
    process ends with :func:`os._exit`-like abruptness: no cleanup runs, as after
    ``kill -9`` of the parent none is wanted.
    """
    libc = _libc()
    _die_with_parent(libc)
    if os.getppid() != parent:  # the parent died before the prctl: the signal is lost
        os._exit(1)
    threading.Thread(
        target=_watch, args=(parent, interval, libc), name=THREAD_NAME, daemon=True
    ).start()
