"""What every format adapter shares: the registry of readers by suffix, what an adapter
returns, picking one image of several, and lengths in nm.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shiftvae.errors import ReaderError
from shiftvae.io.validate import colour_channels

log = logging.getLogger(__name__)


Index = int | str | None

_NM_PER_UNIT = {
    "nm": 1.0,
    "nanometer": 1.0,
    "nanometers": 1.0,
    "å": 0.1,  # "Å".lower(), also the Angstrom sign U+212B after lower()
    "a": 0.1,
    "angstrom": 0.1,
    "angstroms": 0.1,
    "pm": 1e-3,
    "µm": 1e3,  # micro sign
    "μm": 1e3,  # Greek mu
    "um": 1e3,
    "micron": 1e3,
    "microns": 1e3,
    "mm": 1e6,
    "cm": 1e7,
    "m": 1e9,
}
_NO_UNIT = {"", "px", "pixel", "pixels", "<undefined>", "undefined", "none"}


@dataclass
class _Raw:
    """What an adapter read: data (2D, or a stack still to pick from) and its calibration."""

    data: Any
    pixel_size: float | None = None
    unit: str = "px"
    metadata: dict[str, Any] = field(default_factory=dict)
    index_used: bool = False  # the adapter already applied ``index``


Reader = Callable[[Path, Index], _Raw]
_READERS: dict[str, tuple[str, Reader]] = {}


def _reader(name: str, *suffixes: str) -> Callable[[Reader], Reader]:
    """Register an adapter for the given suffixes."""

    def register(func: Reader) -> Reader:
        for suffix in suffixes:
            _READERS[suffix] = (name, func)
        return func

    return register


# --- picking one image ----------------------------------------------------------------------


def _choose(names: Sequence[str], index: Index, path: Path, what: str) -> int:
    """Position in ``names`` that ``index`` (number or name) selects; ``what`` describes them."""
    n = len(names)
    if index is None:
        by_name = "" if all(s.isdigit() for s in names) else " or a name"
        raise ReaderError(
            f"{path} {what}; pick one with index= (--index on the command line): "
            f"a number from 0 to {n - 1}{by_name}"
        )
    if isinstance(index, str) and not index.lstrip("-").isdigit():
        key = index.strip("/")
        exact = [i for i, s in enumerate(names) if s.strip("/") == key]
        part = [i for i, s in enumerate(names) if key in s.strip("/").split("/")]
        if exact or len(part) == 1:
            return (exact or part)[0]
        listed = ", ".join(names[:12]) + (f", ... ({n - 12} more)" if n > 12 else "")
        raise ReaderError(f"{path} has no image named {index!r}; it holds: {listed}")
    try:
        i = operator.index(int(index) if isinstance(index, str) else index)
    except TypeError:
        raise ReaderError(f"index must be a number or a name, got {index!r}") from None
    if not -n <= i < n:
        raise ReaderError(f"index {i} is out of range: {path} {what} (0 to {n - 1})")
    return i % n


def _take_image(arr: Any, index: Index, path: Path, what: str | None = None) -> np.ndarray:
    """The 2D image of ``arr`` (array or h5py dataset): itself, or one image of a 3D stack.

    Axes of length 1 are dropped; only the selected image of a stack is read.
    """
    shape = tuple(int(s) for s in arr.shape)
    core = [ax for ax, s in enumerate(shape) if s != 1]
    if len(shape) <= 2 or len(core) <= 2:
        if index not in (None, 0, "0"):
            raise ReaderError(f"{path} holds a single image: index {index!r} does not apply")
        data = np.asarray(arr[()])
        return data if len(shape) <= 2 else data.reshape([shape[ax] for ax in core])
    if len(core) > 3:
        raise ReaderError(
            f"{path} holds a {len(core)}D array of shape {shape}; only 2D images and 3D "
            "stacks can be read"
        )
    n = shape[core[0]]
    channels = colour_channels(tuple(shape[ax] for ax in core))
    if channels and what is None:  # (rows, cols, RGB[A]): index picks a channel
        core = [core[2], core[0], core[1]]
        n = channels
        rgb = "RGBA" if channels == 4 else "RGB"
        what = f"is an {rgb} colour image ({channels} channels)"
    if what is None:
        rows, cols = (shape[ax] for ax in core[1:])
        what = f"is a stack of {n} images of {rows} x {cols} px"
    i = _choose([str(k) for k in range(n)], index, path, what)
    key = tuple(
        i if ax == core[0] else slice(None) if ax in core else 0 for ax in range(len(shape))
    )
    return np.asarray(arr[key])


def _pick(
    names: Sequence[str], shapes: Sequence[Any], index: Index, path: Path
) -> tuple[int, bool]:
    """(position, index used) among the images of a file; a lone image needs no index."""
    if len(names) == 1:
        return 0, False
    items = [f"{n} {'x'.join(map(str, s))}" for n, s in zip(names, shapes)]
    if len(items) > 12:
        items = [*items[:12], f"... ({len(items) - 12} more)"]
    return _choose(names, index, path, f"holds {len(names)} images ({', '.join(items)})"), True


# --- calibration ----------------------------------------------------------------------------


def _to_nm(scale: Any, unit: Any) -> tuple[float | None, str]:
    """(pixel size, unit) with lengths in nm; (None, "px") when uncalibrated."""
    try:
        scale = abs(float(scale))
    except (TypeError, ValueError):
        return None, "px"
    text = str(unit).strip()
    if "\\u" in text:  # ImageJ writes escapes such as "\\u00B5m"
        text = text.encode("ascii", "backslashreplace").decode("unicode_escape")
    key = text.lower()
    if not np.isfinite(scale) or scale == 0 or key in _NO_UNIT:
        return None, "px"
    if key in _NM_PER_UNIT:
        return scale * _NM_PER_UNIT[key], "nm"
    return scale, text  # not a length (e.g. 1/nm): kept as the file gives it


def _two_axes(x: tuple[float | None, str], y: tuple[float | None, str]) -> _Raw:
    """Calibration from the column (x) and row (y) axes; anisotropy is noted in metadata."""
    meta: dict[str, Any] = {}
    if x[0] is not None and y[0] is not None and not np.isclose(x[0], y[0], rtol=1e-3):
        meta["pixel_size_rows"] = y[0]
        log.info("pixels are not square: %.4g %s (cols) x %.4g %s (rows)", *x, *y)
    return _Raw(None, x[0], x[1], meta)
