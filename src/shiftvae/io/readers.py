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
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

from shiftvae.errors import ReaderError, ShiftVAEError
from shiftvae.io import formats_em, formats_files, formats_hdf5, formats_spm  # noqa: F401  register
from shiftvae.io.hdf5_probe import HDF5_SUFFIXES, probe_hdf5
from shiftvae.io.registry import _READERS, Index, Reader, _take_image, log
from shiftvae.io.validate import check_image
from shiftvae.types import Image

__all__ = ["SUPPORTED_SUFFIXES", "read_image"]


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


SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(sorted(_READERS))
"""Every file suffix :func:`read_image` reads (lower case)."""
