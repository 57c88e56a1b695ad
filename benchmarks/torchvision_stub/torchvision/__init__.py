"""Stand-in for torchvision in the benchmark environments (``.venv-bench``, ``.venv-atomai``).

pyroVED imports ``torchvision.utils.make_grid`` for its plotting helpers, and atomai also
``torchvision.models`` for one backbone class; training never calls them.  There is no CPU
build of torchvision for the pinned torch here, so ``benchmarks/setup_bench_env.sh`` and
``benchmarks/setup_atomai_env.sh`` copy this tiny package into those environments.  Calling
anything in it raises.
"""

from __future__ import annotations

from torchvision import models, utils

IS_SHIFTVAE_BENCH_STUB = True
__version__ = "0.0.0+shiftvae.bench.stub"
__all__ = ["IS_SHIFTVAE_BENCH_STUB", "models", "utils"]
