"""Shared pieces of the figure reproductions: numbers.json, timers, images, sizes.

Every figure module writes its PNGs and one ``numbers.json`` holding the exact configuration,
the seed, the measured numbers, the timings and the provenance (versions, command line), so a
reader can rerun exactly what produced a figure.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from shiftvae.errors import InputError
from shiftvae.report.runinfo import run_info
from shiftvae.synthetic.paper import lattice_image
from shiftvae.types import Image

log = logging.getLogger(__name__)

DEFAULT_IMAGE = "perovskite_adf_atomap.hdf5"
NUMBERS = "numbers.json"


def to_jsonable(obj: Any) -> Any:
    """NumPy scalars/arrays to Python, tuples to lists, NaN and infinities to None."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


class Timer:
    """Wall-clock seconds of named stages: ``with timer("train"): ...``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._start = time.perf_counter()

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        tic = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - tic

    def total(self) -> dict[str, float]:
        return {**self.seconds, "total": time.perf_counter() - self._start}


def write_numbers(
    out_dir: Path,
    figure: str,
    quick: bool,
    seed: int,
    config: dict[str, Any],
    results: dict[str, Any],
    timer: Timer,
) -> dict[str, Any]:
    """Write ``numbers.json`` into ``out_dir`` and return what was written.

    Examples
    --------
    >>> numbers = write_numbers(tmp, "fig2", True, 0, {"n": 10}, {"r2": 0.9}, Timer())
    ... # doctest: +SKIP
    """
    timings = timer.total()
    numbers = {
        "figure": figure,
        "quick": bool(quick),
        "seed": int(seed),
        "config": config,
        "results": results,
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
        "provenance": run_info(seed, {}),
        "figures": sorted(p.name for p in Path(out_dir).glob("*.png")),
    }
    numbers = to_jsonable(numbers)
    path = Path(out_dir) / NUMBERS
    path.write_text(json.dumps(numbers, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    log.info("%s: numbers written (%.0f s)", figure, timings["total"])
    return numbers


def shared_data_dirs() -> list[Path]:
    """Where the real images may live: ``<repo>/../shared/data`` (repo from the source tree
    or the working directory)."""
    repo = Path(__file__).resolve().parents[3]
    return [repo.parent / "shared" / "data", Path.cwd().resolve().parent / "shared" / "data"]


def default_image_path(name: str = DEFAULT_IMAGE) -> Path | None:
    """The default real image if one of :func:`shared_data_dirs` holds it, else None."""
    for folder in shared_data_dirs():
        if (folder / name).is_file():
            return folder / name
    return None


def modulated_lattice(size: int = 128, period: float = 8.0, seed: int = 0) -> Image:
    """A square lattice whose atom intensity varies smoothly across the image.

    The modulation (a half cosine across the columns, from 0.45 to 1) is a known, smooth
    order parameter: a physical conventional latent map should follow it.

    Examples
    --------
    >>> modulated_lattice(64).data.shape
    (64, 64)
    """
    base = lattice_image(size=size, period=period, displacement=0.03, seed=seed)
    cols = np.linspace(0.0, np.pi, size)
    field = 0.725 - 0.275 * np.cos(cols)[None, :]  # 0.45 at the left, 1 at the right
    data = (base * field).astype(np.float32)
    data /= data.max()
    return Image(
        data,
        source=f"generated: modulated square lattice (size {size}, period {period:g}, seed {seed})",
        metadata={"generated": True, "modulation": "0.725 - 0.275 cos(pi col / size)"},
    )


def load_image(image: str | Path | Image | None) -> Image:
    """An :class:`Image` from a path, an Image, or None (the default real image)."""
    if isinstance(image, Image):
        return image
    if image is None:
        image = default_image_path()
        if image is None:
            dirs = ", ".join(str(d) for d in shared_data_dirs())
            raise InputError(
                f"the default image {DEFAULT_IMAGE} was not found in {dirs}: "
                "pass an image with --image PATH"
            )
    from shiftvae.io.readers import read_image

    return read_image(image)


def crop_center(image: Image, size: int | None) -> Image:
    """The central ``size x size`` region of ``image`` (the whole image if None or larger)."""
    if size is None or max(image.data.shape) <= size:
        return image
    rows, cols = image.data.shape
    r0, c0 = max(0, (rows - size) // 2), max(0, (cols - size) // 2)
    data = image.data[r0 : r0 + size, c0 : c0 + size]
    meta = {**image.metadata, "crop": [int(r0), int(c0), int(size)]}
    return Image(np.ascontiguousarray(data), image.pixel_size, image.unit, image.source, meta)


def pick(quick: bool, quick_value: Any, full_value: Any, override: Any = None) -> Any:
    """The user's override if given, else the quick or the full default."""
    if override is not None:
        return override
    return quick_value if quick else full_value
