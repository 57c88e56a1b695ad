"""Many images, one model: maps of a series in one latent space.

A separate fit per image gives latents of arbitrary sign, order and scale, which cannot be
compared.  :func:`fit_images` cuts every image with one geometry (that of the first image;
with patches on the lattice or the atom columns, each image's own lattice origin), trains
one model on all the patches, and maps each image's latents back, so the maps of a time
series, a tilt series or a set of samples share one latent space.
"""

from __future__ import annotations

import glob
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from shiftvae.errors import InputError
from shiftvae.io.hyperspy import is_signal, signal_images
from shiftvae.model.vae import ShiftVAE
from shiftvae.pipeline.fit import (
    FitConfig,
    FitResult,
    as_image,
    build_model,
    encode_and_map,
    fit_epochs,
    geometry_metadata,
    image_patches,
    lattice_physics,
    map_metrics,
    patch_noise,
    train_model,
)
from shiftvae.pipeline.geometry import resolve_geometry
from shiftvae.pipeline.options import check_fit_options
from shiftvae.types import Image

log = logging.getLogger(__name__)

PIXEL_SIZE_TOLERANCE = 0.01  # relative difference of calibrations taken as one pixel size


@dataclass
class SeriesResult:
    """One model and, per image, a :class:`FitResult` sharing it (in the images' order)."""

    model: ShiftVAE
    results: list[FitResult]
    timings: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, i: int) -> FitResult:
        return self.results[i]


def fit_images(
    images: Sequence[Image | np.ndarray | str | Path] | np.ndarray,
    config: FitConfig | None = None,
    progress: bool = True,
) -> SeriesResult:
    """Train one model on the patches of every image and map each image's latents.

    Parameters
    ----------
    images : sequence of sv.Image, 2D arrays or paths, a glob pattern, or a 3D array
        The series, in order (a pattern's files sorted by name; frames of a 3D array).
        Calibrated images must share one pixel size (within 1%); resample them first
        otherwise.
    config : FitConfig, optional
        As for :func:`~shiftvae.fit_image`; the geometry (window, step, binning, lattice)
        is resolved on the first image and used for all.
    progress : bool
        Show the training progress bar.

    Examples
    --------
    >>> series = sv.fit_images(["t0.dm3", "t1.dm3", "t2.dm3"])  # doctest: +SKIP
    >>> [r.maps.z.shape for r in series.results]  # doctest: +SKIP
    """
    config = config or FitConfig()
    check_fit_options(config)
    for name, flag in (("labels", "--labels"), ("values", "--values")):
        if getattr(config, name) is not None:
            raise InputError(
                f"{flag} names cells of one image: fit that image alone with it, then encode "
                "the series with --transfer (a series is not fitted with it)"
            )
    frames = _as_images(images)
    _check_calibrations(frames)
    tic = time.perf_counter()
    geo = resolve_geometry(frames[0], config)
    geos, patches = [], []
    for frame in frames:
        g = geo  # other frames: its origin, same vectors (a posed fit has no lattice to move)
        if frame is not frames[0]:
            g = geo.on_image(frame, "that of the first image", "fit the images separately")
        geos.append(g)
        patches.append(image_patches(frame, g, config))
    shapes = {p.data.shape[1:] for p in patches}
    if len(shapes) > 1:  # only a lattice centre rounding could do this; guard anyway
        raise InputError(f"the images gave patches of different shapes {sorted(shapes)}")
    data = np.concatenate([p.data for p in patches])
    timings = {"patches": time.perf_counter() - tic}
    epochs = fit_epochs(len(data), config)
    names = tuple(f.source for f in frames)
    geos = [g.with_(epochs=epochs, series=names) for g in geos]
    geo = geo.with_(epochs=epochs)
    model = build_model(data.shape[1:], geo, config, patch_noise(data, config))
    model.metadata.update(geometry_metadata(frames[0], patches[0], geos[0], config))
    model.metadata["series"] = [f.source for f in frames]
    tic = time.perf_counter()
    train_model(model, data, epochs, config, progress)
    timings["train"] = time.perf_counter() - tic
    tic = time.perf_counter()
    results = []
    for frame, p, g in zip(frames, patches, geos):
        encoding, maps = encode_and_map(model, p, g, config)
        metrics = map_metrics(maps, model)
        per = {"patches": 0.0, "train": 0.0, "encode_and_map": 0.0}
        physics = lattice_physics(frame, g, metrics, config.reference)
        results.append(
            FitResult(frame, p, model, encoding, maps, config, metrics, per, g, *physics)
        )
    timings["encode_and_map"] = time.perf_counter() - tic
    results[0].timings.update(timings)  # the shared work, counted once
    return SeriesResult(model, results, timings)


def expand_paths(patterns: Sequence[str | Path]) -> list[Path]:
    """Paths, with each pattern holding ``*``, ``?`` or ``[`` (and naming no existing file)
    replaced by the files it matches, sorted; a pattern that matches nothing is an
    InputError."""
    out: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.exists() or not any(c in str(pattern) for c in "*?["):
            out.append(path)
            continue
        matches = sorted(Path(m) for m in glob.glob(str(pattern)) if Path(m).is_file())
        if not matches:
            raise InputError(f"no file matches {pattern}")
        out += matches
    return out


def _as_images(images: Any) -> list[Image]:
    """A list of sv.Image from a sequence (of images, arrays or paths), a glob pattern or a
    3D array."""
    if isinstance(images, str) and any(c in images for c in "*?[") and not Path(images).exists():
        images = expand_paths([images])
    if is_signal(images):  # a HyperSpy stack: its frames
        images = signal_images(images)
    if isinstance(images, np.ndarray) and images.ndim == 3:
        images = [replace(as_image(frame), source=f"frame {i}") for i, frame in enumerate(images)]
    if isinstance(images, str | Path | Image) or (
        isinstance(images, np.ndarray) and images.ndim != 3
    ):
        raise InputError(
            "fit_images takes a list of images (or a 3D array of frames); for one image "
            "use fit_image"
        )
    frames = []
    for i, image in enumerate(images):
        frame = as_image(image)
        if not isinstance(image, Image | str | Path):  # an array: name it by its place
            frame = replace(frame, source=f"image {i}")
        frames.append(frame)
    if not frames:
        raise InputError("no images were given: fit_images needs at least one")
    return frames


def _check_calibrations(frames: list[Image]) -> None:
    """One pixel size for all: the same window must cover the same area in each."""
    sizes = [(f.pixel_size, f.unit, f.source) for f in frames if f.pixel_size]
    if sizes and len(sizes) < len(frames):
        raise InputError(
            "some images are calibrated and some are not: give all of them in pixels of one size"
        )
    for size, unit, source in sizes[1:]:
        first, first_unit, first_source = sizes[0]
        if unit != first_unit or abs(size - first) > PIXEL_SIZE_TOLERANCE * first:
            raise InputError(
                f"{source} has pixels of {size:.4g} {unit} and {first_source} of "
                f"{first:.4g} {first_unit}: resample them to one pixel size first"
            )


__all__ = ["SeriesResult", "expand_paths", "fit_images"]
