"""From an image to latent maps: patches, training, encoding, maps, and physicality.

This is what ``shiftvae fit`` runs, exposed for notebooks and for the sweep runner::

    img = sv.read_image("scan.dm3")
    result = sv.fit_image(img, FitConfig(epochs=50))
    result.maps.z  # (l, rows, cols) order-parameter maps
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import maximum_filter, minimum_filter

from shiftvae.analysis.classes import class_summary
from shiftvae.analysis.column_errors import column_errors
from shiftvae.analysis.columns import Columns, column_summary, find_columns
from shiftvae.analysis.dislocations import describe_dislocations
from shiftvae.analysis.grain_strain import grain_strain_maps
from shiftvae.analysis.latent_meaning import latent_meanings
from shiftvae.analysis.maps import geometric_phase, latent_maps
from shiftvae.analysis.smoothing import smooth_over_cells
from shiftvae.analysis.smoothness import physicality, smoothness
from shiftvae.analysis.strain import StrainMaps, strain_maps
from shiftvae.data.noise import estimate_noise, remove_background
from shiftvae.data.patches import CLIP_PERCENTILES, extract_patches, minmax_patches, scale_image
from shiftvae.errors import InputError
from shiftvae.io.column_positions import read_column_positions
from shiftvae.io.hyperspy import is_signal, signal_images
from shiftvae.io.labels import read_labels, read_values
from shiftvae.io.validate import check_image, check_patches
from shiftvae.lattice.centers import cut_patches
from shiftvae.lattice.estimate import Lattice
from shiftvae.lattice.grid import lattice_patch_grid
from shiftvae.model.vae import ShiftVAE
from shiftvae.pipeline.config import FitConfig
from shiftvae.pipeline.geometry import (  # noqa: F401  re-exported: the names users import
    AUTO_EPOCHS,
    AUTO_STEPS,
    LATTICE_WINDOW_CELLS,
    MAX_AUTO_WINDOW,
    MAX_LATTICE_WINDOW,
    MIN_AUTO_PATCHES,
    MIN_BEAT,
    NO_LATTICE_WINDOW,
    Geometry,
    auto_epochs,
    auto_step,
    resolve_geometry,
)
from shiftvae.pipeline.options import check_fit_options
from shiftvae.types import Encoding, Image, LatentMaps, Patches

log = logging.getLogger(__name__)


@dataclass
class FitResult:
    """Everything a fit produced."""

    image: Image
    patches: Patches
    model: ShiftVAE
    encoding: Encoding
    maps: LatentMaps
    config: FitConfig
    metrics: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    geometry: Geometry | None = None
    strain: StrainMaps | None = None  # GPA strain and rotation of the image, with a lattice
    columns: Columns | None = None  # every sublattice's columns, cell by cell, with a lattice


def bin_image(image: Image, factor: int) -> Image:
    """Average ``factor x factor`` blocks (the border that does not fill a block is dropped)."""
    if factor == 1:
        return image
    rows, cols = (s // factor * factor for s in image.data.shape)
    data = image.data[:rows, :cols].reshape(rows // factor, factor, cols // factor, factor)
    pixel = None if image.pixel_size is None else image.pixel_size * factor
    return Image(
        data.mean(axis=(1, 3), dtype=np.float64).astype(np.float32),
        pixel,
        image.unit,
        image.source,
        {**image.metadata, "binning": factor},
    )


def _to_original(patches: Patches, binning: int) -> Patches:
    """Express patch centres and geometry in pixels of the unbinned image."""
    if binning == 1:
        return patches
    patches.centers = patches.centers * binning + (binning - 1) / 2
    patches.binning = binning
    return patches


def as_image(image: Image | np.ndarray | str | Path) -> Image:
    """An :class:`Image` from an Image, a 2D array (uncalibrated pixels), a file path or a
    HyperSpy ``Signal2D`` (calibrated by its signal axes)."""
    if isinstance(image, Image):
        return image
    if isinstance(image, str | Path):
        from shiftvae.io.readers import read_image

        return read_image(image)
    if is_signal(image):  # HyperSpy: keep the signal axes' calibration
        frames = signal_images(image)
        if len(frames) > 1:
            raise InputError(
                f"{frames[0].source.rsplit(' [', 1)[0]} is a stack of {len(frames)} images: "
                "fit them with fit_images, or pick one with signal.inav[i]"
            )
        return frames[0]
    if isinstance(image, list | tuple) or hasattr(image, "__array__"):
        return Image(check_image(np.asarray(image), "the image array"), None, "px", "array")
    raise InputError(
        f"the image must be an sv.Image, a 2D array or a file path, got {type(image).__name__}"
    )


def fit_image(
    image: Image | np.ndarray | str | Path,
    config: FitConfig | None = None,
    progress: bool = True,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    checkpoint_every: int = 0,
) -> FitResult:
    """Cut ``image`` into patches, train a (shift-)VAE, encode and map the latents back.

    ``image`` is an :class:`Image`, a 2D array (pixels without calibration) or a file path.

    ``checkpoint``, ``resume`` and ``checkpoint_every`` are passed to :meth:`ShiftVAE.fit`:
    with a checkpoint file, training state is saved every ``checkpoint_every`` epochs (0:
    every 10% of training) and on Ctrl-C, and ``resume=True`` continues from it; the result
    is the same as that of an uninterrupted run with the same seed (on the CPU).
    """
    config = config or FitConfig()
    check_fit_options(config)  # all options before any work
    image = as_image(image)
    timings: dict[str, float] = {}
    tic = time.perf_counter()
    geo = resolve_geometry(image, config)
    patches = image_patches(image, geo, config)
    timings["patches"] = time.perf_counter() - tic
    tic = time.perf_counter()
    measured: dict = {}  # from the image alone, before training: a bad reference fails now
    physics = lattice_physics(image, geo, measured, config.reference)
    timings["physics"] = time.perf_counter() - tic
    geo = geo.with_(epochs=fit_epochs(len(patches), config))
    known = None if config.values is None else read_values(config.values)
    names = () if known is None else known[2]
    noise = patch_noise(patches.data, config)
    model = build_model(patches.data.shape[1:], geo, config, noise, names)
    model.metadata.update(geometry_metadata(image, patches, geo, config))
    tic = time.perf_counter()
    labels = patch_labels(config.labels, patches, model.config.classes)
    values = None if known is None else patch_values(config.values, known, patches)
    train_model(
        model,
        patches,
        geo.epochs,
        config,
        progress,
        checkpoint,
        resume,
        checkpoint_every,
        labels,
        values,
    )
    timings["train"] = time.perf_counter() - tic
    tic = time.perf_counter()
    encoding, maps = encode_and_map(model, patches, geo, config)
    timings["encode_and_map"] = time.perf_counter() - tic
    metrics = map_metrics(maps, model)
    metrics["registration"] = registration_metrics(model, encoding)
    metrics.update(measured)
    latent_physics(model, encoding, image, geo, metrics)
    return FitResult(image, patches, model, encoding, maps, config, metrics, timings, geo, *physics)


def latent_physics(model, encoding: Encoding, image: Image, geo: Geometry, metrics: dict) -> None:
    """What each conventional latent means in pm and % (``metrics["latent_meanings"]``),
    measured on the decoded motif, where the image has columns of two sublattices."""
    if geo.lattice is None or metrics.get("columns", {}).get("sublattices", 0) < 2:
        return
    meanings = latent_meanings(model, encoding, image, geo.binning)
    if meanings:
        metrics["latent_meanings"] = meanings
    else:
        log.info("the decoded motif shows one sublattice: no latent read in pm")


def lattice_physics(
    image: Image, geo: Geometry, metrics: dict, region: tuple | None = None
) -> tuple[StrainMaps | None, Columns | None]:
    """GPA strain and rotation of the image against its median lattice (or that of the
    rectangle ``region``), and the columns of every sublattice (None without a lattice,
    said in one line); their summaries go into ``metrics``.  A bad ``region`` raises.
    With a rotation latent, an image of several grains is measured grain by grain
    (:mod:`~shiftvae.analysis.grain_strain`), without columns."""
    if geo.rotation in (4, 6):  # grains at several orientations: each against its own cell
        try:
            grains = grain_strain_maps(image, symmetry=geo.rotation, region=region)
        except InputError as exc:
            if region is not None and "reference region" in str(exc):
                raise  # the user's choice: said, not skipped
            grains = None
            log.info("no strain maps of grains: %s", exc)
        if grains is not None and (len(grains.orientation) > 1 or geo.lattice is None):
            strain = grains.as_strain_maps()
            metrics["strain"] = {k: round(v, 4) for k, v in strain.summary().items()}
            metrics["grains"] = grains.summary()
            log.info(
                "strain of %d grains, each against one cell turned to it", len(grains.orientation)
            )
            return strain, None
    if geo.lattice is None:
        log.info("no lattice: no strain, rotation or column maps were made")
        return None, None
    strain = columns = None
    try:
        strain = strain_maps(image, geo.lattice, region=region)
        metrics["strain"] = {k: round(v, 4) for k, v in strain.summary().items()}
        metrics["dislocations"] = [d.as_dict(image) for d in strain.dislocations]
        if strain.dislocations:
            log.info("dislocations: %s", describe_dislocations(metrics["dislocations"]))
    except InputError as exc:
        if region is not None and "reference region" in str(exc):
            raise  # the user's choice: said, not skipped
        log.info("no strain or rotation maps: %s", exc)  # a small image: not a fault
    try:
        columns = column_errors(find_columns(image, geo.lattice), image)
        metrics["columns"] = column_summary(columns, image)
    except InputError as exc:
        log.info("no column positions: %s", exc)
    return strain, columns


def fit_epochs(n_patches: int, config: FitConfig) -> int:
    """The configured epochs, or for "auto" enough for ``AUTO_STEPS`` steps (auto_epochs)."""
    if config.epochs != "auto":
        return int(config.epochs)
    epochs = auto_epochs(n_patches, config.batch_size)
    log.info("%d epochs (%d optimisation steps at least)", epochs, AUTO_STEPS)
    return epochs


def train_model(
    model: ShiftVAE,
    data: Patches | np.ndarray,
    epochs: int,
    config: FitConfig,
    progress: bool = True,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    checkpoint_every: int = 0,
    labels: np.ndarray | None = None,
    values: np.ndarray | None = None,
) -> None:
    """Train ``model`` on ``data`` with the optimisation settings of ``config`` (``labels``:
    a class per patch or -1, for a model with classes; ``values``: (N, P) or NaN, for a model
    with properties)."""
    model.fit(
        data,
        epochs=epochs,
        batch_size=config.batch_size,
        beta=(config.beta_start, config.beta_end),
        lr=config.lr,
        device=config.device,
        precision=config.precision,
        progress=progress,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        resume=resume,
        labels=labels,
        values=values,
    )


def patch_noise(data: np.ndarray, config: FitConfig) -> float:
    """The Gaussian likelihood's std: the config's, or ("auto") the noise of the patches
    themselves (so in their units, whatever the normalisation and binning), from at most
    2000 of them spread over the image."""
    if config.noise != "auto":
        return float(config.noise)
    pick = np.linspace(0, len(data) - 1, min(len(data), 2000)).astype(int)
    return estimate_noise(data[pick])


def build_model(
    patch_shape: tuple[int, ...],
    geo: Geometry,
    config: FitConfig,
    noise: float = 0.1,
    properties: tuple[str, ...] = (),
) -> ShiftVAE:
    """The (untrained) model of a fit: the config's network with the geometry's parts,
    ``noise`` the std of a Gaussian likelihood, and a regression head for ``properties``."""
    likelihood = geo.likelihood or config.likelihood
    log.info(
        "%s likelihood%s",
        likelihood,
        f" at the patches' noise std {noise:.4f}" if likelihood == "gaussian" else "",
    )
    return ShiftVAE(
        patch_shape,
        latent_dim=config.latent_dim,
        shift=config.shift and geo.position != "none",
        shift_scale=config.shift_scale,
        likelihood=likelihood,
        gaussian_std=noise,
        hidden=config.hidden,
        decoder_hidden=config.decoder_hidden,
        encoder=geo.encoder,
        coord_frequency=geo.coord_frequency,
        position="gaussian" if geo.position == "none" else geo.position,
        decoder=geo.decoder,
        lattice=_patch_lattice(geo, geo.binning),
        rotation=geo.rotation or None,
        scale=config.scale,
        period=None if geo.ring_period is None else geo.ring_period / geo.binning,
        classes=config.classes or 0,
        properties=properties,
        seed=config.seed,
    )


def image_patches(image: Image, geo: Geometry, config: FitConfig) -> Patches:
    """The patches of ``image`` for a resolved geometry (window, step, binning, centres,
    lattice), centres in pixels of the original image."""
    b = geo.binning
    work = bin_image(image, b)
    if geo.background:  # None for models saved before it: their image is kept
        flat = remove_background(work.data, geo.background / b, plane=geo.background_plane)
        work = replace(work, data=flat)
    if geo.centers == "grid":
        patches = extract_patches(
            work,
            window=max(2, geo.window // b),
            step=max(1, geo.step // b),
            normalize=config.normalize,
        )
    else:
        patches = _lattice_patches(work, geo, b, config)
    patches = _to_original(patches, b)
    check_patches(patches.data)
    if len(patches) < 2:
        raise InputError(
            f"only {len(patches)} patch fits the image with window {geo.window} "
            f"and step {geo.step}: use a smaller window or step"
        )
    log.info(
        "%d patches of %d x %d px (grid %d x %d, binning %d)",
        len(patches),
        *patches.data.shape[1:],
        *patches.grid_shape,
        b,
    )
    return patches


def encode_and_map(
    model: ShiftVAE, patches: Patches, geo: Geometry, config: FitConfig
) -> tuple[Encoding, LatentMaps]:
    """Encode the patches and place the latents, shifts and lattice phases on their grid."""
    b = geo.binning
    encoding = model.encode(patches)
    encoding.shift_mean *= b  # shifts in pixels of the original image
    encoding.shift_std *= b
    maps = latent_maps(encoding, patches, phases=config.phases, seed=config.seed)
    if encoding.class_probs is not None:
        maps.class_probs = encoding.class_probs.T.reshape(-1, *patches.grid_shape)
    if encoding.values is not None:
        maps.values = encoding.values.T.reshape(-1, *patches.grid_shape)
        maps.value_std = encoding.value_std.T.reshape(-1, *patches.grid_shape)
        maps.value_names = model.config.properties
    if maps.lattice_phase is not None and geo.lattice is not None and not geo.rotation:
        phase = geometric_phase(encoding.phase_mean, patches.centers, geo.lattice.vectors)
        maps.lattice_phase = phase.T.reshape(maps.lattice_phase.shape)
    reg = model.registration_
    if reg is not None and len(reg.branch) == len(patches):
        field = np.concatenate([reg.displacement * b, reg.branch[:, None]], 1)
        maps.registration = field.T.reshape(3, *patches.grid_shape)
    _smooth(maps, patches, geo, config.seed)
    return encoding, maps


def _smooth(maps: LatentMaps, patches: Patches, geo: Geometry, seed: int) -> None:
    """The conventional maps averaged over neighbouring cells, widths in lattice periods (or
    in windows without a lattice), beside the per-cell maps.  Cells whose patch straddles an
    antiphase boundary of the registration are filled from their neighbours: their latents
    describe a patch half on each side (0.87 against 0.98 for the ratio field's Spearman on
    the registration family's antiphase case at noise 0.08, smoothed with them and without)."""
    if maps.z.shape[0] == 0 or len(patches) < 2:
        return
    unit = geo.window if geo.lattice is None else float(np.max(geo.lattice.periods))
    sources = None
    if maps.registration is not None:  # a patch astride an antiphase boundary is neither side
        spacing = np.median(np.linalg.norm(np.diff(maps.centers, axis=1), axis=-1))
        branch, reach = maps.registration[2], 2 * round(geo.window / 2 / spacing) + 1
        straddles = maximum_filter(branch, reach) != minimum_filter(branch, reach)
        sources = ~straddles.ravel() if (~straddles).sum() >= 2 else None
    smooth = smooth_over_cells(
        maps.z.reshape(len(maps.z), -1),
        patches.centers,
        unit,
        geo.window,
        seed=seed,
        sources=sources,
    )
    maps.z_smooth = smooth.values.reshape(maps.z.shape)
    maps.z_smooth_std = smooth.std.reshape(maps.z.shape)
    maps.smoothing_px = tuple(float(s * unit) for s in smooth.scale_cells)


def registration_metrics(model: ShiftVAE, encoding: Encoding) -> dict[str, Any] | None:
    """What the registration did and how many cells the trained position disagrees with:
    their encoded position more than an eighth of a cell from the registered one on some
    axis (the encoder may correct it by up to a quarter cell)."""
    reg = model.registration_
    if reg is None or encoding.phase_mean is None or len(reg.branch) != len(encoding.z_mean):
        return None
    gap = np.angle(np.exp(1j * (encoding.phase_mean - reg.angles)))
    return {
        "note": reg.note,
        "translation": None if reg.translation is None else reg.translation.tolist(),
        "moved": reg.n_flipped,
        "beyond_boundary": int(reg.branch.sum()),
        "disagree": int((np.abs(gap) > np.pi / 4).any(axis=1).sum()),
        "cells": len(reg.branch),
    }


def patch_values(path, known, patches: Patches) -> np.ndarray:
    """(N, P) values per patch (NaN: unknown) from the values CSV ``path`` as read by
    :func:`~shiftvae.io.labels.read_values` (``known``), each row given to the patch whose
    centre is nearest (rows on one patch: their mean)."""
    points, given, _ = known
    nearest = _nearest_patches(path, points, patches, "value")
    values = np.full((len(patches), given.shape[1]), np.nan)
    for p in range(given.shape[1]):
        have = np.isfinite(given[:, p])
        sums = np.bincount(nearest[have], given[have, p], len(patches))
        counts = np.bincount(nearest[have], minlength=len(patches))
        values[counts > 0, p] = sums[counts > 0] / counts[counts > 0]
    log.info("%d patches with values from %s", int(np.isfinite(values).any(1).sum()), path)
    return values


def _nearest_patches(path, points: np.ndarray, patches: Patches, what: str) -> np.ndarray:
    """The patch whose centre is nearest each point (M, 2), or one sentence naming the
    first point on no patch."""
    from scipy.spatial import cKDTree

    distance, nearest = cKDTree(patches.centers).query(points)
    far = distance > patches.window
    if far.any():
        i = int(np.flatnonzero(far)[0])
        raise InputError(
            f"{what} {i + 1} in {path} at ({points[i, 0]:g}, {points[i, 1]:g}) px is not on "
            f"any patch (the nearest centre is {distance[i]:.0f} px away)"
        )
    return nearest


def patch_labels(path, patches: Patches, classes: int) -> np.ndarray | None:
    """A class per patch (-1: unknown) from the labels CSV ``path`` (row, col px, class),
    each label given to the patch whose centre is nearest, or None without a file."""
    if path is None:
        return None
    points, given = read_labels(path, classes)
    nearest = _nearest_patches(path, points, patches, "label")
    labels = np.full(len(patches), -1, dtype=np.int64)
    labels[nearest] = given
    log.info("%d patches labelled from %s", int((labels >= 0).sum()), path)
    return labels


def _lattice_patches(work: Image, geo: Geometry, b: int, config: FitConfig) -> Patches:
    """Patches centred on the lattice sites (or atom columns), one per cell, of ``work``."""
    if geo.lattice is None:
        raise InputError(
            f"centers={geo.centers!r} needs a lattice, and none was found or given; "
            "use centers='grid' or give the lattice vectors (--lattice)"
        )
    lattice = geo.lattice
    binned = Lattice(lattice.vectors / b, (lattice.origin - (b - 1) / 2) / b, lattice.confidence)
    window = max(2, geo.window // b)
    given = None
    if getattr(config, "columns", None):
        given = _given_columns(config.columns, work.data.shape, b)
    grid = lattice_patch_grid(work.data, binned, window, geo.centers, given)  # (rows, cols, 2)
    scaled = scale_image(work.data, config.normalize, CLIP_PERCENTILES)
    data = cut_patches(scaled, grid.reshape(-1, 2), window)
    if config.normalize == "patch":
        minmax_patches(data)
    step = float(np.linalg.norm(binned.vectors, axis=1).min())
    return Patches(
        data=data,
        centers=grid.reshape(-1, 2),
        grid_shape=grid.shape[:2],
        window=window,
        step=max(1, round(step)),
        image_shape=work.data.shape,
        pixel_size=work.pixel_size,
        unit=work.unit,
        normalize=config.normalize,
    )


def _given_columns(path, shape: tuple[int, int], binning: int) -> np.ndarray:
    """The column positions of the CSV ``path`` in pixels of the (binned) image, or one
    sentence on why they cannot centre its patches."""
    given = read_column_positions(path)
    given = (given - (binning - 1) / 2) / binning
    inside = np.all((given >= 0) & (given <= np.asarray(shape) - 1), axis=1)
    if not inside.any():
        raise InputError(
            f"none of the {len(given)} column positions in {path} lies inside the "
            f"{shape[0] * binning} x {shape[1] * binning} px image (they must be (row, col) "
            "in pixels of this image)"
        )
    log.info("patch centres from %s: %d of %d positions inside", path, inside.sum(), len(given))
    return given[inside]


def _patch_lattice(geo: Geometry, binning: int) -> np.ndarray | None:
    """The lattice vectors in pixels of the (binned) patches, when the model uses them;
    without a lattice the Fourier coder's cell is the window itself."""
    if geo.motif_lattice is not None:  # rotation: the lattice of the motif's frame
        return np.asarray(geo.motif_lattice, dtype=np.float64) / binning
    if geo.position != "torus" and "lattice" not in (geo.decoder, geo.encoder):
        return None
    if geo.lattice is None:
        return np.eye(2) * max(2, geo.window // binning)
    return geo.lattice.vectors / binning


def geometry_metadata(image: Image, patches: Patches, geo: Geometry, config: FitConfig) -> dict:
    """What a checkpoint needs to rebuild maps: grid, image, calibration, schedule, seed."""
    saved = geo.as_dict()
    keys = ("window", "step", "binning", "epochs", "coord_frequency", "lattice", "position")
    keys += ("decoder", "encoder", "centers", "rotation", "ring_period", "motif_lattice")
    return {
        **{k: saved.get(k) for k in (*keys, "background", "background_plane", "likelihood")},
        "grid_shape": list(patches.grid_shape),
        "image_shape": list(image.data.shape),
        "pixel_size": image.pixel_size,
        "unit": image.unit,
        "source": image.source,
        "grid_convention": "patch i at grid cell divmod(i, cols); centres (row, col) px",
        "config": config.as_dict(),
    }


def map_metrics(maps: LatentMaps, model: ShiftVAE) -> dict[str, Any]:
    """Smoothness of every map, physicality, and the final losses."""
    h = model.history_
    out: dict[str, Any] = {
        "smoothness_z": [float(smoothness(m)) for m in maps.z],
        "smoothness_shift": [float(smoothness(m)) for m in maps.shift],
        "physicality": float(physicality(maps)),
        "final_loss": h.loss[-1] if len(h) else math.nan,
        "final_reconstruction": h.reconstruction[-1] if len(h) else math.nan,
        "final_kl": h.kl[-1] if len(h) else math.nan,
    }
    if maps.phases is not None:
        out["n_phases"] = int(maps.phases.max()) + 1
    if maps.z_smooth is not None:
        out["smoothed"] = {
            "smoothing_px": list(maps.smoothing_px),
            "median_error": [float(np.median(e)) for e in maps.z_smooth_std],
        }
    if maps.class_probs is not None:
        out["classes"] = class_summary(maps.class_probs)
    if maps.values is not None:
        out["properties"] = {
            name: {
                "median": float(np.median(v)),
                "p5": float(np.percentile(v, 5)),
                "p95": float(np.percentile(v, 95)),
                "median_std": float(np.median(e)),
            }
            for name, v, e in zip(maps.value_names, maps.values, maps.value_std)
        }
    return out
