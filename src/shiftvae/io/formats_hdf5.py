"""The HDF5 adapter: HyperSpy files, NeXus NXdata, and any file with 2D datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from shiftvae.errors import ReaderError
from shiftvae.io.registry import (
    _NO_UNIT,
    Index,
    _pick,
    _Raw,
    _reader,
    _take_image,
    _to_nm,
    _two_axes,
)

# --- HDF5: HyperSpy, NeXus, any file with datasets ------------------------------------------


@_reader("HDF5", ".h5", ".hdf5", ".hspy", ".nxs")
def _read_hdf5(path: Path, index: Index) -> _Raw:
    import h5py

    with h5py.File(path, "r") as f:
        found = _hyperspy_images(f) or _nexus_images(f, index) or _plain_datasets(f)
        if not found:
            raise ReaderError(f"{path} holds no dataset with two or more dimensions")
        i, used = _pick([ds.name for ds, _ in found], [ds.shape for ds, _ in found], index, path)
        ds, raw = found[i]
        if used and sum(s > 1 for s in ds.shape) > 2:
            raise ReaderError(
                f"dataset {ds.name} of {path} is a stack of shape {ds.shape}; index= picked "
                "the dataset, so save the image you want as a 2D dataset of its own"
            )
        raw.data = _take_image(ds, None if used else index, path)
        raw.metadata["dataset"] = ds.name
        raw.index_used = True
    return raw


def _hyperspy_images(f: Any) -> list[tuple[Any, _Raw]]:
    """HyperSpy layout: Experiments/<name>/data with axis-<i> groups (scale, units)."""
    group = f.get("Experiments")
    if group is None or not hasattr(group, "keys"):
        return []
    found = []
    for name, exp in group.items():
        ds = exp.get("data") if hasattr(exp, "keys") else None
        if ds is None or not hasattr(ds, "shape"):
            continue
        n = ds.ndim
        axes = [exp[f"axis-{k}"].attrs if f"axis-{k}" in exp else {} for k in (n - 1, n - 2)]
        (x, assumed), (y, _) = (_hyperspy_axis(a) for a in axes)
        raw = _two_axes(x, y)
        if assumed:
            raw.metadata["unit_assumed"] = "nm (the file gives a scale but no unit)"
        raw.metadata["title"] = name
        found.append((ds, raw))
    return found


def _hyperspy_axis(attrs: Any) -> tuple[tuple[float | None, str], bool]:
    """Calibration of one HyperSpy axis, and whether its unit had to be assumed.

    A scale without a unit is what HyperSpy saves when a scale was set by hand
    (``axes_manager[0].scale = 0.0093``); for the atomic-resolution images this package
    reads, that scale is in nm (the convention of atomap and temul data sets).
    """
    scale, units = attrs.get("scale", 1.0), _text(attrs.get("units", ""))
    if units.strip().lower() in _NO_UNIT and float(scale) != 1.0:
        return _to_nm(scale, "nm"), True
    return _to_nm(scale, units), False


def _nexus_images(f: Any, index: Index) -> list[tuple[Any, _Raw]]:
    """NeXus NXdata signals; the file's default one alone when no index is given."""
    found: list[tuple[Any, _Raw]] = []

    def visit(name: str, obj: Any) -> None:
        signal = obj.attrs.get("signal") if hasattr(obj, "keys") else None
        if _text(obj.attrs.get("NX_class")) == "NXdata" and signal is not None:
            ds = obj.get(_text(signal))
            if ds is not None and hasattr(ds, "shape") and ds.ndim >= 2:
                found.append((ds, _nexus_calibration(obj)))

    f.visititems(visit)
    default = _nexus_default(f)
    if index is None and default is not None:
        chosen = [item for item in found if item[0].parent.name == default]
        return chosen or found
    return found


def _nexus_default(f: Any) -> str | None:
    """Path of the NXdata group the file's ``default`` attributes point to."""
    node, path = f, ""
    for _ in range(3):
        target = node.attrs.get("default")
        if target is None or _text(target) not in node:
            break
        path = f"{path}/{_text(target)}"
        node = node[_text(target)]
    return path if path and _text(node.attrs.get("NX_class")) == "NXdata" else None


def _nexus_calibration(group: Any) -> _Raw:
    """Pixel size from the last two entries of the NXdata ``axes`` (their spacing, units)."""
    axes = group.attrs.get("axes")
    names = [_text(a) for a in np.atleast_1d(axes)] if axes is not None else []
    if len(names) == 1 and ":" in names[0]:
        names = names[0].split(":")
    cal = []
    for name in (names[-1:] + names[-2:-1]) if len(names) >= 2 else []:
        values = group.get(name)
        if values is None or getattr(values, "ndim", 0) != 1 or len(values) < 2:
            cal.append((None, "px"))
            continue
        step = float(values[1] - values[0])
        cal.append(_to_nm(step, _text(values.attrs.get("units", ""))))
    return _two_axes(cal[0], cal[1]) if len(cal) == 2 else _Raw(None)


def _plain_datasets(f: Any) -> list[tuple[Any, _Raw]]:
    """Every numeric dataset with two or more dimensions, uncalibrated."""
    found = []

    def visit(name: str, obj: Any) -> None:
        if hasattr(obj, "dtype") and obj.ndim >= 2 and obj.dtype.kind in "biuf":
            found.append((obj, _Raw(None)))

    f.visititems(visit)
    return found


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
