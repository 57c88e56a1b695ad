"""Stand-in for torchvision in the benchmark environment (``.venv-bench``) only.

pyroVED imports ``torchvision.utils.make_grid`` for its plotting helpers; training never calls
it.  There is no CPU build of torchvision for the pinned torch here, so
``benchmarks/setup_bench_env.sh`` copies this tiny package into the bench environment.
Calling anything in it raises.
"""

from __future__ import annotations

from torchvision import utils

IS_SHIFTVAE_BENCH_STUB = True
__version__ = "0.0.0+shiftvae.bench.stub"
__all__ = ["IS_SHIFTVAE_BENCH_STUB", "utils"]
