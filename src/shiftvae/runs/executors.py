"""Where sweep and tune runs execute: a Dask cluster (local or remote) or any Executor.

Anything with ``submit(fn, *args)`` returning futures works (``concurrent.futures``
executors, ``dask.distributed.Client``); :class:`Runner` wraps it with what the drivers need:
how many runs fit at once, how many torch threads each run may use, waiting for the first
finished future, and sending the image to the workers once.

Threads: every training sets ``torch.set_num_threads(threads)`` on its worker, chosen so that
the runs of one machine do not oversubscribe its cores (with OpenMP, oversubscription makes
every run several times slower):

* local cluster of ``n`` workers: ``cores // n`` threads per run;
* a ``concurrent.futures`` pool of ``n`` slots: the same;
* an existing Dask cluster: per host, its cores divided by the task slots of the workers on
  that host (the smallest over hosts), asked of the workers themselves;
* a ``ProcessPoolExecutor`` that starts its workers by forking (the default on Linux before
  Python 3.14): one thread per run.  A child forked after this process has used OpenMP
  threads (any torch computation with more than one thread) hangs on its first parallel
  torch operation; the runner warns and says how to get more threads (a ``spawn`` or
  ``forkserver`` context).
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import socket
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from shiftvae.errors import InputError, SchedulerLostError, missing_extra

log = logging.getLogger(__name__)

SCHEDULER_TIMEOUT_S = 10.0
# Local cluster workers are processes (training holds the GIL between torch calls); threads
# (False) start in a fraction of the time, which suits small jobs and the tests.
LOCAL_PROCESSES = True


def default_workers() -> int:
    """One worker per two cores (at least one): each run then gets two threads."""
    return max(1, (os.cpu_count() or 1) // 2)


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """Torch threads per run when ``workers`` runs share ``cores`` (default: this machine)."""
    return max(1, (cores or os.cpu_count() or 1) // max(1, workers))


def _is_dask_client(obj: Any) -> bool:
    return type(obj).__module__.startswith("distributed") and hasattr(obj, "scheduler_info")


def _forks(executor: Any) -> bool:
    """Whether ``executor`` is a process pool that forks its workers."""
    if not isinstance(executor, concurrent.futures.ProcessPoolExecutor):
        return False
    context = getattr(executor, "_mp_context", None)
    method = context.get_start_method() if context is not None else None
    return method == "fork"


def _is_dask_future(obj: Any) -> bool:
    return type(obj).__module__.startswith("distributed")


class Runner:
    """An executor with the bookkeeping the sweep and tune drivers need.

    Parameters
    ----------
    executor : Executor-like
        ``concurrent.futures`` executor, ``dask.distributed.Client`` or any object with
        ``submit(fn, *args)`` returning futures with ``result()``.
    slots : int, optional
        Runs that execute at once (default: read from the executor, else 1).
    threads : int or None, optional
        Torch threads per run (default: from ``slots`` and this machine's cores; for a Dask
        cluster, from the workers' hosts).  None leaves torch's setting alone.
    """

    def __init__(self, executor: Any, slots: int | None = None, threads: int | None = -1):
        if not callable(getattr(executor, "submit", None)):
            raise InputError(
                f"executor must have a submit(fn, *args) method, got {type(executor).__name__}"
            )
        self.executor = executor
        self.is_dask = _is_dask_client(executor)
        self.slots = max(1, int(slots or self._detect_slots()))
        self.threads = self._detect_threads() if threads == -1 else threads
        if _forks(executor) and self.threads != 1:
            warnings.warn(
                "this ProcessPoolExecutor forks its workers, and a forked worker hangs in "
                "torch's OpenMP threads once this process has used them: each run gets one "
                "thread; create the pool with "
                "mp_context=multiprocessing.get_context('spawn') to give each run "
                f"{threads_per_worker(self.slots)} threads",
                RuntimeWarning,
                stacklevel=3,
            )
            self.threads = 1

    def _detect_slots(self) -> int:
        if self.is_dask:
            workers = self.executor.scheduler_info().get("workers", {})
            return sum(int(w.get("nthreads", 1)) for w in workers.values()) or 1
        return int(getattr(self.executor, "_max_workers", 1) or 1)

    def _detect_threads(self) -> int | None:
        if not self.is_dask:
            return threads_per_worker(self.slots)
        try:
            workers = self.executor.scheduler_info().get("workers", {})
            cores = self.executor.run(os.cpu_count)  # {address: cores of its host}
        except Exception as exc:  # a cluster that cannot run functions: keep torch's default
            log.debug("cannot ask the workers for their cores: %s", exc)
            return None
        slots_per_host: dict[str, int] = {}
        cores_per_host: dict[str, int] = {}
        for addr, info in workers.items():
            host = info.get("host") or urlsplit(addr).hostname or addr
            slots_per_host[host] = slots_per_host.get(host, 0) + int(info.get("nthreads", 1))
            cores_per_host[host] = int(cores.get(addr) or 1)
        if not slots_per_host:
            return 1
        return min(threads_per_worker(slots_per_host[h], cores_per_host[h]) for h in slots_per_host)

    def put(self, obj: Any) -> Any:
        """Send ``obj`` to the workers once (Dask); other executors get the object itself."""
        if self.is_dask:
            return self.executor.scatter(obj, broadcast=True)
        return obj

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self.is_dask:  # impure: two trainings with equal arguments are still two runs
            return self.executor.submit(fn, *args, pure=False)
        return self.executor.submit(fn, *args)

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        return as_completed(futures)

    def wait_first(self, futures: Iterable[Any]) -> tuple[set[Any], set[Any]]:
        """Block until at least one future is done; return (done, not_done)."""
        futures = list(futures)
        if futures and _is_dask_future(futures[0]):
            from dask.distributed import wait

            res = wait(futures, return_when="FIRST_COMPLETED")
        else:
            res = concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_COMPLETED)
        return set(res.done), set(res.not_done)


def check_scheduler_address(address: str, timeout_s: float = SCHEDULER_TIMEOUT_S) -> None:
    """Fail fast, with a clear message, when nothing listens at a tcp:// scheduler address."""
    text = address if "://" in address else f"tcp://{address}"
    try:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise InputError(f"invalid Dask scheduler address {address!r}: {exc}") from None
    if parts.scheme not in ("tcp", "tls"):
        return  # inproc://, ucx://, ws://: leave it to distributed
    if not host or port is None:
        raise InputError(
            f"invalid Dask scheduler address {address!r}: expected tcp://HOST:PORT "
            "(e.g. tcp://10.0.0.5:8786)"
        )
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except socket.gaierror:
        raise InputError(
            f"cannot reach the Dask scheduler at {address}: unknown host {host!r}"
        ) from None
    except OSError as exc:
        why = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise InputError(
            f"cannot reach the Dask scheduler at {address} ({why}): is it running and "
            "reachable from here?"
        ) from None


def connect(scheduler: str, timeout_s: float = SCHEDULER_TIMEOUT_S):
    """A ``dask.distributed.Client`` on an existing scheduler, or InputError within timeout_s."""
    try:
        from dask.distributed import Client
    except ImportError as exc:
        raise missing_extra("dask[distributed]", "sweep", "running sweeps") from exc
    tic = time.monotonic()
    check_scheduler_address(scheduler, timeout_s)
    left = max(1.0, timeout_s - (time.monotonic() - tic))
    try:
        return Client(scheduler, timeout=f"{left:.1f}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(
            f"cannot connect to the Dask scheduler at {scheduler} within {timeout_s:g} s "
            f"({type(exc).__name__}: {exc})"
        ) from None


@contextmanager
def dask_executor(
    workers: int | None = None,
    scheduler: str | None = None,
    timeout_s: float = SCHEDULER_TIMEOUT_S,
    processes: bool | None = None,
) -> Iterator[Any]:
    """A ``dask.distributed.Client``: on ``scheduler`` if given, else on a LocalCluster.

    The local cluster has ``workers`` single-threaded workers (default cores/2), processes by
    default (training holds the GIL between torch calls); ``processes=False`` runs them as
    threads of this process (quick to start, for small jobs and tests).  None: the module's
    ``LOCAL_PROCESSES``.
    """
    if scheduler:
        client = connect(scheduler, timeout_s)
        try:
            yield client
        finally:
            client.close()
        return
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        raise missing_extra("dask[distributed]", "sweep", "running sweeps") from exc
    n = workers or default_workers()
    quiet = logging.getLogger("distributed")
    level = quiet.level
    if quiet.getEffectiveLevel() < logging.WARNING:  # the cluster's chatter is not for users
        quiet.setLevel(logging.WARNING)
    try:
        procs = LOCAL_PROCESSES if processes is None else bool(processes)
        with _local_client(LocalCluster, Client, n, procs) as client:
            yield client
    finally:
        quiet.setLevel(level)


@contextmanager
def _local_client(LocalCluster, Client, n: int, processes: bool) -> Iterator[Any]:
    cluster = LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=processes,
        dashboard_address=":0",  # a free port: never a clash with another cluster (8787)
        silence_logs=logging.ERROR,
    )
    try:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


@contextmanager
def open_runner(
    executor: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
    processes: bool | None = None,
    threads: int | None = -1,
    timeout_s: float = SCHEDULER_TIMEOUT_S,
) -> Iterator[Runner]:
    """A :class:`Runner` on ``executor`` if given, else on a Dask cluster (closed at the end).

    ``threads=-1`` (default) picks torch threads per run as described in the module docs.
    """
    if workers is not None and (int(workers) != workers or workers < 1):
        raise InputError(f"workers must be a positive integer, got {workers!r}")
    if executor is not None:
        if scheduler:
            raise InputError("give either an executor or a scheduler address, not both")
        yield executor if isinstance(executor, Runner) else Runner(executor, threads=threads)
        return
    with dask_executor(workers, scheduler, timeout_s, processes) as client:
        if scheduler is None and threads == -1:
            threads = threads_per_worker(workers or default_workers())
        yield Runner(client, threads=threads)


def as_completed(futures: Iterable[Any]) -> Iterator[Any]:
    """Yield futures as they finish, for Dask and concurrent.futures alike."""
    futures = list(futures)
    if futures and _is_dask_future(futures[0]):
        from dask.distributed import as_completed as dask_as_completed

        yield from dask_as_completed(futures)
    else:
        yield from concurrent.futures.as_completed(futures)


def scheduler_lost(exc: BaseException) -> bool:
    """Whether a future failed because the client lost its Dask scheduler (the futures are
    then cancelled with the reason "scheduler-connection-lost")."""
    text = str(exc)
    return "scheduler-connection-lost" in text or "lost the connection to the scheduler" in text


def lost_sentence(
    records: dict[Any, dict], done: Callable[[int], str], resume: str
) -> Callable[[], str]:
    """The one sentence of a lost scheduler for :func:`finished`; it counts the records whose
    status is "ok" when it is called.  ``done(n)`` says what n such records are ("3 of 5
    images were fitted"); ``resume`` how to continue."""

    def sentence() -> str:
        n = sum(r.get("status") == "ok" for r in records.values())
        return (
            f"the Dask scheduler went away after {done(n)}; they are kept: continue with "
            f"{resume} once a scheduler is running"
        )

    return sentence


def finished(
    runner: Runner, futures: dict[Any, Any], lost: Callable[[], str]
) -> Iterator[tuple[Any, Any, Exception | None]]:
    """``(key, result, None)``, or ``(key, None, error)`` for a task that failed or whose
    worker died, for each of ``futures`` ({future: key}) as it finishes.  A lost scheduler
    raises :class:`SchedulerLostError` with the sentence ``lost()`` (called then, so it can
    count what was done)."""
    for fut in runner.as_completed(list(futures)):
        try:
            result, error = fut.result(), None
        except Exception as exc:
            if scheduler_lost(exc):
                raise SchedulerLostError(lost()) from None
            result, error = None, exc
        yield futures[fut], result, error
