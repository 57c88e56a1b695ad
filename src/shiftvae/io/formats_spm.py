"""Scanning-probe formats: Nanonis sxm and Gwyddion gwy."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shiftvae.errors import ReaderError, missing_extra
from shiftvae.io.registry import (
    Index,
    _pick,
    _Raw,
    _reader,
    _to_nm,
    _two_axes,
)

# --- scanning probe formats -----------------------------------------------------------------


@_reader("Nanonis", ".sxm")
def _read_sxm(path: Path, index: Index) -> _Raw:
    try:
        from nanonispy2.read import Scan
    except ImportError as exc:
        raise missing_extra("nanonispy2", "stm", "reading .sxm files") from exc
    scan = Scan(str(path))
    images = {f"{c}/{d}": a for c, dirs in scan.signals.items() for d, a in dirs.items()}
    names = list(images)
    i, used = _pick(names, [a.shape for a in images.values()], index, path)
    data = images[names[i]]
    if names[i].endswith("backward"):
        data = data[:, ::-1]  # backward lines are recorded right to left
    if str(scan.header.get("scan_dir", "")).strip().lower() == "up":
        data = data[::-1]  # an upward scan starts at the bottom row
    scan_range, pixels = scan.header["scan_range"], scan.header["scan_pixels"]
    x = _to_nm(scan_range[0] / pixels[0], "m")
    y = _to_nm(scan_range[1] / pixels[1], "m")
    raw = _two_axes(x, y)
    raw.data, raw.index_used = np.ascontiguousarray(data), used
    raw.metadata["channel"] = names[i]
    return raw


@_reader("Gwyddion", ".gwy")
def _read_gwy(path: Path, index: Index) -> _Raw:
    try:
        import gwyfile
    except ImportError as exc:
        raise missing_extra("gwyfile", "stm", "reading .gwy files") from exc
    obj = gwyfile.load(str(path))
    channels = sorted(gwyfile.util.find_datafields(obj))
    if not channels:
        raise ReaderError(f"{path} holds no image channel")
    names = [str(title) for _, title in channels]
    fields = [obj[f"/{num}/data"] for num, _ in channels]
    i, used = _pick(names, [f.data.shape for f in fields], index, path)
    fld = fields[i]
    unit = fld.si_unit_xy.unitstr if fld.si_unit_xy is not None else ""
    rows, cols = fld.data.shape
    raw = _two_axes(_to_nm(fld.xreal / cols, unit), _to_nm(fld.yreal / rows, unit))
    raw.data, raw.index_used = fld.data, used
    raw.metadata["channel"] = names[i]
    return raw
