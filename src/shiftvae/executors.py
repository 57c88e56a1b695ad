"""Where sweep and tune runs execute: a Dask cluster (local or remote) or any Executor.

Anything with ``submit(fn, *args)`` returning futures works (``concurrent.futures``
executors, ``dask.distributed.Client``).  Training runs each use ``threads`` torch threads,
chosen so that the workers of one machine do not oversubscribe its cores: with OpenMP,
oversubscription makes every run several times slower.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from shiftvae.errors import InputError, missing_extra

log = logging.getLogger(__name__)


def default_workers() -> int:
    """One worker per two cores (at least one): each run then gets two threads."""
    return max(1, (os.cpu_count() or 1) // 2)


def threads_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, workers))


@contextmanager
def dask_executor(
    workers: int | None = None, scheduler: str | None = None, timeout_s: float = 10.0
) -> Iterator[Any]:
    """A ``dask.distributed.Client``: on ``scheduler`` if given, else on a LocalCluster.

    The local cluster uses processes (training holds the GIL between torch calls) with one
    thread each; ``threads_per_worker`` torch threads are set inside every task.
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        raise missing_extra("dask[distributed]", "sweep", "running sweeps") from exc
    if scheduler:
        try:
            client = Client(scheduler, timeout=f"{timeout_s}s")
        except (OSError, TimeoutError) as exc:
            raise InputError(
                f"cannot reach the Dask scheduler at {scheduler} within "
                f"{timeout_s:g} s: is it running and reachable?"
            ) from exc
        try:
            yield client
        finally:
            client.close()
        return
    n = workers or default_workers()
    cluster = LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def as_completed(futures: Iterable[Any]) -> Iterator[Any]:
    """Yield futures as they finish, for Dask and concurrent.futures alike."""
    futures = list(futures)
    if futures and type(futures[0]).__module__.startswith("distributed"):
        from dask.distributed import as_completed as dask_as_completed

        yield from dask_as_completed(futures)
    else:
        import concurrent.futures

        yield from concurrent.futures.as_completed(futures)
