"""Read one 2D image from a file: a small registry of readers, one adapter per format.

The reader is chosen by the file suffix (case-insensitive):

=========================  ==================================  =================================
suffixes                   library (extra)                     calibration
=========================  ==================================  =================================
.tif .tiff                 tifffile                            ImageJ unit + XResolution, OME
                                                               PhysicalSizeX / PhysicalSizeXUnit
.png .jpg .jpeg .bmp       Pillow                              none; colour -> grey (luminance)
.npy                       numpy                               none
.h5 .hdf5 .hspy .nxs       h5py                                HyperSpy axes, NeXus NXdata axes
.dm3 .dm4 .emd .ser .mrc   rosettasciio (``shiftvae[stem]``)   the file's signal axes
.sxm                       nanonispy2 (``shiftvae[stm]``)      scan range / scan pixels
.gwy                       gwyfile (``shiftvae[stm]``)         xreal / xres
=========================  ==================================  =================================

Lengths are converted to nm (from m, mm, um/µm, Å, pm); an uncalibrated image has
``pixel_size=None`` and ``unit="px"``.

``index`` picks one image when a file holds several: a number or a name for files with several
images (HDF5 datasets, HyperSpy experiments, signals of a .emd or .dm4 file, Nanonis channels
such as ``"Z/forward"``, Gwyddion channels, TIFF series), the position along the first axis of
a single 3D stack, or the channel of an RGB TIFF.  Without it such files are refused with a
message that lists what is there.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import operator
import os
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shiftvae.errors import ReaderError, ShiftVAEError, missing_extra
from shiftvae.io.hdf5_probe import HDF5_SUFFIXES, probe_hdf5
from shiftvae.io.validate import check_image, colour_channels
from shiftvae.types import Image

log = logging.getLogger(__name__)

__all__ = ["SUPPORTED_SUFFIXES", "read_image"]

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


def read_image(
    path: str | os.PathLike, index: Index = None, allow_nonfinite: bool = False
) -> Image:
    """Read one 2D image and its calibration from a file.

    Parameters
    ----------
    path : str or path-like
        Image file; the format follows from its suffix (see :data:`SUPPORTED_SUFFIXES`).
    index : int or str, optional
        Which image of a file that holds several (a number, or a dataset/channel name), or
        which image of a 3D stack.
    allow_nonfinite : bool
        Accept NaN/Inf pixels (repair them with :func:`shiftvae.io.validate.fill_nan`).

    Returns
    -------
    Image
        ``data`` float32 C-contiguous (rows, cols); ``pixel_size`` in nm where the file gives a
        length (None and unit "px" when uncalibrated); ``source`` = ``str(path)``.

    Raises
    ------
    ReaderError
        Missing file, folder, unknown suffix, unreadable or corrupt file, several images or a
        stack without ``index``, not 2D, NaN/Inf pixels, constant or empty image.
    MissingExtraError
        The format needs an optional package that is not installed.

    Examples
    --------
    >>> img = read_image("scan.dm3")  # doctest: +SKIP
    >>> img.data.shape, round(img.pixel_size, 4), img.unit  # doctest: +SKIP
    ((1024, 1024), 0.0127, 'nm')
    >>> frame = read_image("series.tif", index=3)  # image 3 of a stack  # doctest: +SKIP
    """
    path = Path(path)
    name, reader = _lookup(path)
    if path.suffix.lower() in HDF5_SUFFIXES:
        probe_hdf5(path)  # a file that crashes libhdf5 crashes a helper process, not this one
    try:
        with _library_warnings(path):
            raw = reader(path, index)
    except ShiftVAEError:
        raise
    except MemoryError as exc:  # a corrupt header can claim an image of any size
        raise ReaderError(
            f"not enough memory to read {path}: it claims a larger image than fits in memory "
            "(a corrupt header?)"
        ) from exc
    except PermissionError as exc:
        raise ReaderError(f"{path} cannot be read: permission denied") from exc
    except Exception as exc:  # each library fails in its own way on a bad file
        detail = " ".join(str(exc).split())[:200] or "no details"
        raise ReaderError(
            f"cannot read {path} as {name}: the file may be corrupt or truncated "
            f"({type(exc).__name__}: {detail})"
        ) from exc
    data = raw.data if raw.index_used else _take_image(raw.data, index, path)
    data = check_image(data, str(path), allow_nonfinite, error=ReaderError)
    metadata = {"format": name, **raw.metadata}
    if index is not None:
        metadata["index"] = index
    unit = raw.unit if raw.pixel_size is not None else "px"
    return Image(data, raw.pixel_size, unit, str(path), metadata)


def _lookup(path: Path) -> tuple[str, Reader]:
    """The (format name, adapter) for ``path``, after checking the file is there."""
    if not path.exists():
        raise ReaderError(f"image file {path} does not exist")
    if path.is_dir():
        raise ReaderError(f"{path} is a folder, not an image file")
    suffix = path.suffix.lower()
    if suffix not in _READERS:
        what = f"an unknown image format {suffix!r}" if suffix else "no file extension"
        raise ReaderError(f"{path} has {what}; supported: {' '.join(SUPPORTED_SUFFIXES)}")
    if path.stat().st_size == 0:
        raise ReaderError(f"{path} is an empty file (0 bytes)")
    if not os.access(path, os.R_OK):
        raise ReaderError(f"{path} cannot be read: permission denied")
    return _READERS[suffix]


@contextlib.contextmanager
def _library_warnings(path: Path) -> Iterator[None]:
    """Keep the readers' warnings (odd tags, unknown metadata) out of the user's way: log them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        log.info("%s: %s", path.name, " ".join(str(w.message).split()))


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


# --- electron microscopy formats through rosettasciio ---------------------------------------

_RSCIIO_PLUGIN = {
    ".dm3": "digitalmicrograph",
    ".dm4": "digitalmicrograph",
    ".emd": "emd",
    ".ser": "tia",
    ".mrc": "mrc",
}


@_reader("DigitalMicrograph", ".dm3", ".dm4")
@_reader("EMD", ".emd")
@_reader("TIA", ".ser")
@_reader("MRC", ".mrc")
def _read_rsciio(path: Path, index: Index) -> _Raw:
    suffix = path.suffix.lower()
    try:
        plugin = importlib.import_module(f"rsciio.{_RSCIIO_PLUGIN[suffix]}")
    except ImportError as exc:
        raise missing_extra("rosettasciio", "stem", f"reading {suffix} files") from exc
    if suffix in (".dm3", ".dm4"):
        _guard_dm_structs(importlib.import_module("rsciio.digitalmicrograph._api"))
    signals = [s for s in plugin.file_reader(str(path)) if np.ndim(s["data"]) >= 2]
    if not signals:
        raise ReaderError(f"{path} holds no image (only spectra or other 1D signals)")
    titles = [
        str(s.get("metadata", {}).get("General", {}).get("title") or f"signal {k}")
        for k, s in enumerate(signals)
    ]
    i, used = _pick(titles, [np.shape(s["data"]) for s in signals], index, path)
    axes = sorted(signals[i]["axes"], key=lambda a: a.get("index_in_array", 0))
    cal = [_to_nm(a.get("scale", 1.0), a.get("units", "")) for a in axes[-1:-3:-1]]
    raw = _two_axes(cal[0], cal[-1])
    raw.data, raw.index_used = np.asarray(signals[i]["data"]), used
    raw.metadata["title"] = titles[i]
    return raw


_DM_MAX_STRUCT_FIELDS = 4096  # real DigitalMicrograph structs have a handful of fields


def _guard_dm_structs(api: Any) -> None:
    """Make rosettasciio refuse corrupt DM struct definitions instead of hanging on them.

    rosettasciio (0.15) reads a struct's field count from the file and builds the struct's
    definition one tuple concatenation at a time: one flipped bit in that count makes it
    ~10^9 and the read run for hours (found by benchmarks/fuzz_readers.py).  The
    replacement reads the same bytes in the same order and returns the same definition,
    but refuses a count that no real file has.  Installed once, on the reader class; valid
    files read exactly as before.  Nothing is done if rosettasciio's internals differ.
    """
    cls = getattr(api, "DigitalMicrographReader", None)
    original = getattr(cls, "parse_struct_definition", None)
    if original is None or getattr(original, "shiftvae_guard", False):
        return
    if not hasattr(cls, "read_l_or_q"):
        return

    def parse_struct_definition(self: Any) -> tuple[int, ...]:
        read = self.read_l_or_q
        read(self.f, "big")  # the length of the struct's name
        n_fields = read(self.f, "big")
        if not 0 <= n_fields <= _DM_MAX_STRUCT_FIELDS:
            raise OSError(f"corrupt tag: a struct with {n_fields} fields")
        fields = []
        for _ in range(n_fields):
            read(self.f, "big")  # the length of the field's name
            fields.append(read(self.f, "big"))  # its encoded type
        return tuple(fields)

    parse_struct_definition.shiftvae_guard = True  # type: ignore[attr-defined]
    parse_struct_definition.__doc__ = original.__doc__
    cls.parse_struct_definition = parse_struct_definition


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


SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(sorted(_READERS))
"""Every file suffix :func:`read_image` reads (lower case)."""
