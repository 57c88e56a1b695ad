"""``run.json``: what produced a result folder (versions, seed, command line, timings)."""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

from shiftvae._version import __version__


def run_info(seed: int | None, timings: dict[str, float], **extra: Any) -> dict[str, Any]:
    """Collect provenance for ``run.json``."""
    import numpy
    import torch

    return {
        "shiftvae": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "threads": torch.get_num_threads(),
        "command": sys.argv,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seed": seed,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        **extra,
    }


def write_run_json(path: str | Path, info: dict[str, Any]) -> Path:
    path = Path(path)
    path.write_text(json.dumps(info, indent=2, default=str) + "\n", encoding="utf-8")
    return path
