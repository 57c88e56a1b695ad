"""``torchvision.utils`` stand-in: only ``make_grid``, which raises if called."""

from __future__ import annotations


def make_grid(*args, **kwargs):
    """Raise: this is the benchmark's torchvision stand-in, not torchvision."""
    raise RuntimeError(
        "torchvision here is a stand-in installed by benchmarks/setup_bench_env.sh so that "
        "pyroVED imports; make_grid (used by pyroVED's plotting only) is not available"
    )
