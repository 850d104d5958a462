"""Gateway worker processes: the network fetch of remote model calls, over K processes.

The client side of one ``litellm.acompletion`` call costs milliseconds of CPU (building
the request, parsing the reply, litellm's bookkeeping), so one process saturates one core
long before a large society saturates the server. :class:`Pool` spreads that work over
``K`` worker processes, each with its own event loop and connection pool, each running
the gateway's own retry loop (``Gateway._call_model``) for the calls it is given.

The parent keeps everything a run's numbers depend on: the cassette, deduplication,
accounting, the concurrency bound and the seeded draw. A worker is handed a call (the
exact dict the parent would send to litellm) and sends back the reduced reply, so the
same calls give the same decisions with any ``K``.

Design
------
- Workers are started with :mod:`subprocess` (``python -c`` importing this module), not
  :mod:`multiprocessing`: a ``spawn`` child re-runs an unguarded ``__main__`` script, and
  :class:`~concurrent.futures.ProcessPoolExecutor` runs one task at a time per worker,
  where each worker must hold many calls in flight.
- Parent and worker talk over a socket pair: length-prefixed pickles, read and written
  by asyncio streams on both sides, so neither end ever blocks on the other. Messages:
  ``config`` and ``model`` (a model's litellm arguments), ``call``, ``cancel`` and
  ``resume`` one way; ``ready``, ``ok``, ``fatal``, ``error`` and ``log`` (the worker's
  ``workbench.llm`` log records, already redacted, logged again here) the other.
- Secrets reach a worker only through the environment it inherits: a model's arguments
  travel with the API key replaced by the name of the variable holding it.
- Workers die with the parent, even after ``kill -9`` (:mod:`workbench._lifeline`); they
  are started from the gateway's event-loop thread, which outlives them.
- A worker that dies loses nothing: its calls in flight are run again in the parent.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError, ModelUnavailableError, WorkbenchError
from workbench.llm.cores import count_from_env, free_cores

log = logging.getLogger("workbench.llm")

WORKERS_ENV = "WORKBENCH_GATEWAY_WORKERS"
MAX_WORKERS = 256

AUTO_AFTER = 1000
"""Remote calls a gateway makes in-process before a *derived* K starts its workers.

Starting a worker costs about as much CPU as a thousand calls (it imports litellm), so a
small run is cheaper in one process; an explicit ``workers`` starts them at the first call.
"""

_HEADER = struct.Struct("!I")
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[3]); "
    "from workbench.llm.workers import main; main(int(sys.argv[1]), int(sys.argv[2]))"
)
_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding the workbench package


class WorkerLost(Exception):
    """The worker holding a call ended before answering it (the parent runs it instead)."""


def check_workers(value: object, source: str = "gateway workers") -> None:
    """Raise a one-line :class:`ConfigError` unless ``value`` is a worker count.

    Parameters
    ----------
    value : object
        The count to check: a whole number from 1 to :data:`MAX_WORKERS`.
    source : str
        How the value was given, for the message.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WORKERS:
        raise ConfigError(
            f"{source} must be a whole number from 1 to {MAX_WORKERS} (1: calls in this "
            f"process), got {value!r}"
        )


def from_env() -> int | None:
    """The worker count set by ``WORKBENCH_GATEWAY_WORKERS``; None when unset or ``auto``.

    Raises
    ------
    ConfigError
        For a value that is neither ``auto`` nor a whole number from 1 to 256.
    """
    return count_from_env(WORKERS_ENV, MAX_WORKERS, "a worker count")


def resolve(workers: int | None) -> tuple[int, bool]:
    """The worker count for a gateway, and whether it was derived (not asked for).

    ``workers`` when given, else ``WORKBENCH_GATEWAY_WORKERS``, else :func:`free_cores`.
    Off POSIX, always 1 (the workers inherit their socket as a file descriptor).
    """
    if os.name != "posix" or not sys.executable:
        return 1, False
    if workers is not None:
        return workers, False
    chosen = from_env()
    if chosen is not None:
        return chosen, False
    return free_cores(), True


def _frame(message: tuple) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


async def _receive(reader: asyncio.StreamReader) -> tuple:
    (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    return pickle.loads(await reader.readexactly(size))


# -- the parent's side ---------------------------------------------------------------------


@dataclasses.dataclass(eq=False)
class _Worker:
    index: int
    process: subprocess.Popen
    sock: socket.socket
    writer: asyncio.StreamWriter | None = None
    ready: bool = False
    dead: bool = False
    settled: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    pending: dict[int, asyncio.Future] = dataclasses.field(default_factory=dict)
    models: set[str] = dataclasses.field(default_factory=set)
    task: asyncio.Task | None = None

    def send(self, message: tuple) -> None:
        if self.writer is not None and not self.writer.is_closing():
            self.writer.write(_frame(message))


class Pool:
    """``size`` worker processes serving one gateway's remote calls.

    Every method runs on the gateway's event loop (its background thread).

    Parameters
    ----------
    size : int
        Worker processes, at least 2.
    config : GatewayConfig
        The gateway's settings (timeout, retries, backoff, ``api_key_env``); no secret.
    """

    def __init__(self, size: int, config: Any) -> None:
        self.size = size
        self.config = dataclasses.replace(config, workers=1, cassette=None, cassette_mode="off")
        self._workers: list[_Worker] = []
        self._ids = itertools.count()

    def start(self) -> None:
        """Start every worker now, from this thread (the parent-death signal follows it)."""
        loop = asyncio.get_running_loop()
        for index in range(self.size):
            ours, theirs = socket.socketpair()
            fd = theirs.fileno()
            process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(fd), str(os.getpid()), _ROOT],
                pass_fds=(fd,),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
            theirs.close()
            worker = _Worker(index, process, ours)
            worker.task = loop.create_task(self._serve(worker))
            self._workers.append(worker)

    @property
    def ready(self) -> int:
        """How many workers take calls now."""
        return sum(w.ready for w in self._workers)

    async def wait_ready(self, timeout: float) -> int:
        """Wait until every worker is ready (or has died); how many are ready."""
        waits = [w.settled.wait() for w in self._workers]
        try:
            await asyncio.wait_for(asyncio.gather(*waits), timeout)
        except TimeoutError:
            pass
        return self.ready

    async def call(self, call: dict[str, Any], arguments: dict[str, Any]) -> Any:
        """Send ``call`` to the least busy ready worker; its ``_Fetched``.

        ``arguments`` are the model's litellm arguments (the key as ``{"env": NAME}``),
        sent to a worker before its first call of the model.

        Raises
        ------
        WorkerLost
            No worker is ready, or the worker ended before answering.
        ModelUnavailableError
            The worker found the model unreachable (the gateway's fatal error).
        """
        candidates = [w for w in self._workers if w.ready]
        if not candidates:
            raise WorkerLost("no gateway worker is ready")
        worker = min(candidates, key=lambda w: len(w.pending))
        model = call["model"]
        if model not in worker.models:
            worker.send(("model", model, arguments))
            worker.models.add(model)
        ident = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        worker.pending[ident] = future
        worker.send(("call", ident, call))
        try:
            return await future
        except asyncio.CancelledError:
            if worker.pending.pop(ident, None) is not None:
                worker.send(("cancel", ident))
            raise

    def resume(self) -> None:
        """Let every worker make calls again after a fatal model error."""
        for worker in self._workers:
            worker.send(("resume",))

    async def _serve(self, worker: _Worker) -> None:
        try:
            reader, worker.writer = await asyncio.open_unix_connection(sock=worker.sock)
            worker.send(("config", self.config))
            while True:
                message = await _receive(reader)
                kind = message[0]
                if kind == "ready":
                    worker.ready = True
                    worker.settled.set()
                    continue
                if kind == "log":
                    log.log(message[1], "%s", message[2])
                    continue
                future = worker.pending.pop(message[1], None)
                if future is None or future.done():
                    continue  # cancelled meanwhile
                if kind == "ok":
                    future.set_result(message[2])
                elif kind == "fatal":
                    future.set_exception(ModelUnavailableError(message[2]))
                else:
                    future.set_exception(WorkbenchError(f"a gateway worker failed: {message[2]}"))
        except (asyncio.IncompleteReadError, ConnectionError, OSError, EOFError):
            pass  # the worker ended
        finally:
            worker.ready, worker.dead = False, True
            worker.settled.set()
            lost = list(worker.pending.values())
            worker.pending.clear()
            for future in lost:
                if not future.done():
                    future.set_exception(WorkerLost(f"gateway worker {worker.index} ended"))
            if lost:
                log.warning(
                    "gateway worker %d ended (exit code %s); its %d calls run in-process",
                    worker.index,
                    worker.process.poll(),
                    len(lost),
                )

    async def aclose(self, timeout: float = 5.0) -> None:
        """Stop every worker: close its socket (it exits at end of input), then wait."""
        for worker in self._workers:
            if worker.writer is not None:
                worker.writer.close()
            else:
                worker.sock.close()
        tasks = [w.task for w in self._workers if w.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
        deadline = time.monotonic() + timeout
        for worker in self._workers:
            while worker.process.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            if worker.process.poll() is None:
                worker.process.kill()
                worker.process.wait()
        self._workers = []


def portable(arguments: dict[str, Any], key_env: str | None) -> dict[str, Any]:
    """``arguments`` fit to send to a worker: the key replaced by ``{"env": key_env}``.

    ``"no-key"`` (the placeholder for a keyless self-hosted server) is kept as it is.

    Raises
    ------
    ValueError
        The arguments hold a key whose variable is unknown (nothing is sent then).
    """
    out = dict(arguments)
    key = out.get("api_key")
    if key is not None and key != "no-key":
        if key_env is None or os.environ.get(key_env) != key:
            raise ValueError("the key's environment variable is unknown")
        out["api_key"] = {"env": key_env}
    return out


def _resolved(arguments: dict[str, Any]) -> dict[str, Any]:
    out = dict(arguments)
    key = out.get("api_key")
    if isinstance(key, dict):
        out["api_key"] = os.environ.get(key["env"], "")
    return out


# -- the worker's side ---------------------------------------------------------------------


def main(fd: int, parent: int) -> None:
    """A worker process: serve the calls arriving on socket ``fd`` until it closes."""
    from workbench import _lifeline

    _lifeline.install(parent)
    # Ctrl-C reaches the whole process group: the parent decides what stops (it halts,
    # cancelling the calls here, or closes the socket).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):  # parent gone
        asyncio.run(_work(socket.socket(fileno=fd)))


async def _work(sock: socket.socket) -> None:
    from workbench.llm import _http, _litellm
    from workbench.llm.gateway import Gateway, _describe

    reader, writer = await asyncio.open_unix_connection(sock=sock)
    kind, config = await _receive(reader)
    gateway = Gateway(config)
    _litellm.get()  # the import (seconds), before this worker says it is ready
    tasks: dict[int, asyncio.Task] = {}

    def send(message: tuple) -> None:
        if not writer.is_closing():
            writer.write(_frame(message))

    loop = asyncio.get_running_loop()

    class Forward(logging.Handler):
        """The gateway's log records, to the parent (which logs them as its own)."""

        def emit(self, record: logging.LogRecord) -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(send, ("log", record.levelno, record.getMessage()))

    log.addHandler(Forward())
    log.setLevel(logging.DEBUG)
    log.propagate = False

    async def one(ident: int, call: dict[str, Any]) -> None:
        try:
            reply = ("ok", ident, await gateway._call_model(call))
        except asyncio.CancelledError:
            return
        except ModelUnavailableError as exc:
            reply = ("fatal", ident, str(exc))
        except Exception as exc:
            reply = ("error", ident, _describe(exc))
        finally:
            tasks.pop(ident, None)
        send(reply)

    send(("ready", os.getpid()))
    try:
        while True:
            message = await _receive(reader)
            kind = message[0]
            if kind == "call":
                tasks[message[1]] = asyncio.create_task(one(message[1], message[2]))
            elif kind == "cancel":
                task = tasks.pop(message[1], None)
                if task is not None:
                    task.cancel()
            elif kind == "model":
                model, arguments = message[1], _resolved(message[2])
                gateway._remote[model], gateway._routes[model] = arguments, None
                if str(arguments.get("model", "")).startswith(f"{_http.PROVIDER}/"):
                    name = arguments["model"].split("/", 1)[1]
                    _http.price_as(name, arguments["api_base"], model)
            elif kind == "resume":
                gateway.resume()
    except (asyncio.IncompleteReadError, ConnectionError, OSError):
        pass  # the parent closed the socket, or died
    for task in list(tasks.values()):
        task.cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)
    await _http.aclose()
    writer.close()
