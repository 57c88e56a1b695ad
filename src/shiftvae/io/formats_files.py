"""Adapters for plain image files: TIFF (ImageJ and OME calibration), PNG/JPEG/BMP, NumPy."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np

from shiftvae.errors import ReaderError
from shiftvae.io.registry import (
    Index,
    _pick,
    _Raw,
    _reader,
    _take_image,
    _to_nm,
    _two_axes,
    log,
)

# --- TIFF -----------------------------------------------------------------------------------


@_reader("TIFF", ".tif", ".tiff")
def _read_tiff(path: Path, index: Index) -> _Raw:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = list(tif.series)
        if not series:
            raise ReaderError(f"{path} holds no image")
        names = [f"series{k}" for k in range(len(series))]
        i, used = _pick(names, [s.shape for s in series], index, path)
        s = series[i]
        data = s.asarray()
        raw = _tiff_calibration(tif, s.keyframe)
        rgb = s.keyframe.photometric == tifffile.PHOTOMETRIC.RGB
    if rgb and "S" in s.axes and data.ndim == 3 and not used:
        channels = np.moveaxis(data, s.axes.index("S"), 0)  # contiguous or planar samples
        what = f"is an RGB colour image ({len(channels)} channels)"
        data, used = _take_image(channels, index, path, what), True
        raw.metadata["channel"] = index
    raw.data, raw.index_used = data, used
    return raw


def _tiff_calibration(tif: Any, page: Any) -> _Raw:
    """Pixel size from ImageJ metadata or OME-XML; uncalibrated otherwise."""
    if tif.is_imagej and (tif.imagej_metadata or {}).get("unit"):
        unit = tif.imagej_metadata["unit"]
        xres, yres = page.tags.get("XResolution"), page.tags.get("YResolution")
        if xres is not None and xres.value[0]:
            x = _to_nm(xres.value[1] / xres.value[0], unit)
            y = _to_nm(yres.value[1] / yres.value[0], unit) if yres and yres.value[0] else x
            raw = _two_axes(x, y)
            raw.metadata["calibration"] = "ImageJ"
            return raw
    if tif.is_ome and tif.ome_metadata:
        root = ET.fromstring(tif.ome_metadata)
        pixels = next((e for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "Pixels"), None)
        if pixels is not None and pixels.get("PhysicalSizeX"):
            x = _to_nm(pixels.get("PhysicalSizeX"), pixels.get("PhysicalSizeXUnit", "µm"))
            y = _to_nm(
                pixels.get("PhysicalSizeY", pixels.get("PhysicalSizeX")),
                pixels.get("PhysicalSizeYUnit", pixels.get("PhysicalSizeXUnit", "µm")),
            )
            raw = _two_axes(x, y)
            raw.metadata["calibration"] = "OME"
            return raw
    return _Raw(None)


# --- PNG, JPEG, BMP -------------------------------------------------------------------------

_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, as Pillow's convert("L")


@_reader("PNG", ".png")
@_reader("JPEG", ".jpg", ".jpeg")
@_reader("BMP", ".bmp")
def _read_pillow(path: Path, index: Index) -> _Raw:
    from PIL import Image as PILImage

    with PILImage.open(path) as img:
        mode = img.mode
        meta: dict[str, Any] = {"mode": mode}
        if mode in ("1", "L", "I", "F") or mode.startswith("I;"):
            data = np.asarray(img)
        elif mode in ("LA", "La"):
            data = np.asarray(img)[..., 0]  # grey + alpha: drop the alpha
        else:
            rgb = np.asarray(img.convert("RGB"))
            r, g, b = (rgb[..., k] for k in range(3))
            if np.array_equal(r, g) and np.array_equal(g, b):
                data = r
                meta["colour"] = "grey stored as RGB"
            else:
                data = sum(w * c.astype(np.float32) for w, c in zip(_LUMA, (r, g, b)))
                meta["colour"] = "RGB converted to grey by luminance 0.299 R + 0.587 G + 0.114 B"
                log.info("%s is a colour image: converted to grey by luminance", path.name)
    return _Raw(data, metadata=meta)


# --- NumPy ----------------------------------------------------------------------------------


@_reader("NumPy", ".npy")
def _read_npy(path: Path, index: Index) -> _Raw:
    return _Raw(np.load(path, allow_pickle=False))
