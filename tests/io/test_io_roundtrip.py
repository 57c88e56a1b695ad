"""Property test of the readers: random arrays written in every writable format read back.

Formats without a writer here (dm3/dm4, ser, mrc, sxm) are covered by the real images and
the fuzz run; JPEG is lossy and tested on its own in test_io.py.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image as PILImage

from shiftvae.io.readers import read_image
from shiftvae.io.validate import FLOAT32_EXACT


def write_tif(path: Path, data: np.ndarray) -> None:
    tifffile.imwrite(path, data, photometric="minisblack")


def write_pillow(path: Path, data: np.ndarray) -> None:
    PILImage.fromarray(data).save(path)


def write_h5(path: Path, data: np.ndarray) -> None:
    with h5py.File(path, "w") as f:
        f.create_dataset("scan/image", data=data)


def write_hspy(path: Path, data: np.ndarray) -> None:
    """HyperSpy's layout: Experiments/<title>/data with axis groups."""
    with h5py.File(path, "w") as f:
        exp = f.create_group("Experiments/scan")
        exp["data"] = data
        for k in range(2):
            exp.create_group(f"axis-{k}").attrs.update({"scale": 0.5, "units": "nm"})


def write_nxs(path: Path, data: np.ndarray) -> None:
    """NeXus NXdata with a signal and two calibrated axes."""
    with h5py.File(path, "w") as f:
        f.attrs["default"] = "entry"
        entry = f.create_group("entry")
        entry.attrs.update({"NX_class": "NXentry", "default": "data"})
        g = entry.create_group("data")
        g.attrs.update({"NX_class": "NXdata", "signal": "z", "axes": ["y", "x"]})
        g["z"] = data
        for name, n in (("y", data.shape[0]), ("x", data.shape[1])):
            g[name] = np.arange(n) * 0.2
            g[name].attrs["units"] = "nm"


def write_emd(path: Path, data: np.ndarray) -> None:
    from rsciio.emd import file_writer

    axes = [
        {"name": n, "size": s, "scale": 0.5, "units": "nm", "offset": 0.0, "navigate": False}
        for n, s in zip(("y", "x"), data.shape)
    ]
    meta = {"General": {"title": "image"}, "Signal": {}}
    file_writer(str(path), {"data": data, "axes": axes, "metadata": meta, "original_metadata": {}})


def write_gwy(path: Path, data: np.ndarray) -> None:
    from gwyfile.objects import GwyContainer, GwyDataField

    obj = GwyContainer()
    obj["/0/data/title"] = "Topo"
    obj["/0/data"] = GwyDataField(data, xreal=1e-8, yreal=1e-8, si_unit_xy="m")
    obj.tofile(str(path))


NUMERIC = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"]
NUMERIC += ["float16", "float32", "float64"]
FORMATS = {  # suffix: (writer, dtypes it stores exactly)
    ".tif": (write_tif, ["uint8", "uint16", "int16", "int32", "uint32", "float32", "float64"]),
    ".png": (write_pillow, ["uint8", "uint16"]),
    ".bmp": (write_pillow, ["uint8"]),
    ".npy": (np.save, NUMERIC),
    ".h5": (write_h5, NUMERIC),
    ".hspy": (write_hspy, NUMERIC),
    ".nxs": (write_nxs, NUMERIC),
    ".emd": (write_emd, ["uint8", "uint16", "int16", "int32", "float32", "float64"]),
    ".gwy": (write_gwy, ["float64"]),
}


def elements(dtype: np.dtype):
    """Pixel values: any the dtype holds, within what float32 keeps apart from its neighbours.

    uint32/uint64 stay below 2^31 (a minority in the top half is refused as wrapped-around
    negative numbers, see test_validation.py); floats are float32 values (float64 data
    beyond the float32 range is refused).
    """
    if dtype.kind == "b":
        return st.booleans()
    if dtype.kind == "u" and dtype.itemsize >= 4:
        return st.integers(0, 2**31 - 1)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return st.integers(int(info.min), int(info.max))
    width = 16 if dtype.itemsize == 2 else 32
    return st.floats(width=width, allow_nan=False, allow_infinity=False)


@st.composite
def cases(draw):
    suffix = draw(st.sampled_from(sorted(FORMATS)))
    dtype = np.dtype(draw(st.sampled_from(FORMATS[suffix][1])))
    shape = draw(st.tuples(st.integers(2, 24), st.integers(5, 24)))
    data = draw(hnp.arrays(dtype, shape, elements=elements(dtype), fill=st.nothing()))
    return suffix, data


def expected_pixels(data: np.ndarray) -> np.ndarray:
    """What read_image returns: float32, integers beyond 2^24 offset by their minimum."""
    if data.dtype.kind in "iu" and np.abs(data.astype(np.float64)).max() > FLOAT32_EXACT:
        return (data.astype(np.float64) - float(data.min())).astype(np.float32)
    return data.astype(np.float32)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(cases())
def test_random_arrays_read_back_exactly_through_every_writable_format(case):
    pytest.importorskip("rsciio")
    pytest.importorskip("gwyfile")
    suffix, data = case
    event(f"{suffix} {data.dtype}")
    assume(data.min() != data.max())  # constant images are refused (test_validation.py)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"image{suffix}"
        FORMATS[suffix][0](path, data)
        image = read_image(path)
    assert image.data.dtype == np.float32 and image.data.flags.c_contiguous
    np.testing.assert_array_equal(image.data, expected_pixels(data))
