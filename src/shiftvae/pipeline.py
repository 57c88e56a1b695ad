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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from shiftvae.analysis.maps import latent_maps
from shiftvae.analysis.smoothness import physicality, smoothness
from shiftvae.data.centers import check_lattice_option
from shiftvae.data.lattice import MIN_LATTICE_SIDE, Lattice, NoLatticeError, estimate_lattice
from shiftvae.data.patches import WINDOW_PERIODS, estimate_period, extract_patches
from shiftvae.data.validate import check_fit_options, check_patches
from shiftvae.errors import InputError
from shiftvae.model.vae import ShiftVAE
from shiftvae.types import Encoding, Image, LatentMaps, Patches

log = logging.getLogger(__name__)

MAX_AUTO_WINDOW = 24  # px after binning: the coordinate decoder's cost grows with pixels
MAX_LATTICE_WINDOW = 96  # px after binning for the lattice coder (its cost is ~ n * P)
LATTICE_WINDOW_CELLS = 1.5  # automatic window with a lattice: 1.5 times the longer period
NO_LATTICE_WINDOW = 64  # automatic window when the image shows no lattice (at most side / 4)
MIN_AUTO_PATCHES = 2500  # the default step shrinks below window/2 until about this many fit
MIN_BEAT = 0.2  # cycles per map pixel: the default step keeps the grid-lattice beating fast
FREQUENCY_PER_PERIOD = 2.0  # auto coord_frequency: twice the lattice periods per patch side
AUTO_STEPS = 2500  # epochs="auto": at least this many optimisation steps ...
AUTO_EPOCHS = (50, 400)  # ... within these bounds on the number of epochs


@dataclass(frozen=True)
class FitConfig:
    """Every option of an image fit (recorded in results.h5 and model.pt).

    ``window``/``step`` are in pixels of the original image (None: ~2.5 lattice periods
    from the FFT, and window // 2 or less, see :func:`auto_step`).  ``binning`` averages
    bin x bin pixel blocks before cutting patches ("auto": the smallest factor that brings
    the window to <= 24 px), which keeps training fast without changing the patch grid.
    ``coord_frequency`` is the decoder's sine first layer in cycles per patch side ("auto":
    twice the lattice periods per window, so the lattice and its second harmonic are drawn
    from the start; None: the paper's tanh layer), see :class:`shiftvae.ShiftVAE`.
    ``epochs="auto"`` trains for at least 2500 optimisation steps (50 to 400 epochs, see
    :func:`auto_epochs`), so that a small image gets as many updates as a large one.

    ``lattice`` is "auto" (found by :func:`~shiftvae.data.lattice.estimate_lattice`), None
    (the paper's model, no lattice) or two (row, col) vectors in pixels of the image.  With a
    lattice, the "auto" ``position``, ``decoder`` and ``encoder`` are the torus position
    modulo the unit cell and the lattice Fourier coder, the window is 1.5 times the longer
    period, and patches keep their pixels up to 96 px per side; without one they are the
    paper's Gaussian shift, coordinate decoder and MLP encoder, and an image with no lattice
    at all gets a 64 px window (at most a quarter of its smaller side) and a warning.
    """

    window: int | None = None
    step: int | None = None
    normalize: Literal["image", "patch"] | None = "image"
    binning: int | Literal["auto"] = "auto"
    latent_dim: int = 2
    shift: bool = True
    shift_scale: float = 0.5
    likelihood: Literal["bernoulli", "gaussian"] = "bernoulli"
    hidden: tuple[int, ...] = (128, 128)
    decoder_hidden: tuple[int, ...] | None = None
    encoder: Literal["auto", "mlp", "conv", "lattice"] = "auto"
    position: Literal["auto", "gaussian", "torus"] = "auto"
    decoder: Literal["auto", "coordinate", "lattice"] = "auto"
    lattice: Literal["auto"] | tuple | list | None = "auto"
    coord_frequency: float | Literal["auto"] | None = "auto"
    epochs: int | Literal["auto"] = "auto"
    batch_size: int = 100
    beta_start: float = 0.1
    beta_end: float = 1.0
    lr: float = 1e-3
    phases: int | Literal["auto"] | None = "auto"
    seed: int = 0
    device: str = "auto"
    precision: Literal["fp32", "bf16"] = "fp32"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    geometry: dict[str, Any] = field(default_factory=dict)


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


def resolve_lattice(image: Image, config: FitConfig) -> Lattice | None:
    """The lattice of the fit: estimated ("auto"), given in image pixels, or None.

    An image without a clear lattice gets None with a one-line warning when the lattice is
    "auto" and nothing else asks for it; a given lattice that does not fit the image, or a
    torus position / lattice coder asked for without a lattice, is an InputError.
    """
    wanted = [
        f"{name}={value!r}"
        for name, value in (
            ("position", config.position),
            ("decoder", config.decoder),
            ("encoder", config.encoder),
        )
        if value in ("torus", "lattice")
    ]
    if config.lattice is None:
        if wanted:
            raise InputError(f"{', '.join(wanted)} needs a lattice, but lattice=None was given")
        return None
    if not isinstance(config.lattice, str):
        lattice = Lattice(np.asarray(config.lattice, dtype=np.float64), np.zeros(2), 1.0)
        check_lattice_option(lattice, image.data.shape)
        return lattice
    if min(image.data.shape) < MIN_LATTICE_SIDE:
        exc: Exception = NoLatticeError(f"{image.data.shape} px is too small to find a lattice")
        if wanted:
            raise InputError(f"{', '.join(wanted)} needs a lattice, and none was found ({exc})")
        return None
    try:
        return estimate_lattice(image)
    except NoLatticeError as exc:
        if wanted:
            raise InputError(
                f"{', '.join(wanted)} needs a lattice, and none was found ({exc}); give the "
                "lattice vectors by hand (--lattice)"
            ) from exc
        return None


def resolve_model(config: FitConfig, lattice: Lattice | None) -> dict[str, str]:
    """Position, decoder and encoder: the lattice's ("auto" with a lattice) or the paper's."""
    with_lattice = lattice is not None
    choices = {
        "position": ("torus", "gaussian"),
        "decoder": ("lattice", "coordinate"),
        "encoder": ("lattice", "mlp"),
    }
    return {
        name: (options[0] if with_lattice else options[1])
        if getattr(config, name) == "auto"
        else getattr(config, name)
        for name, options in choices.items()
    }


def resolve_geometry(image: Image, config: FitConfig) -> dict[str, Any]:
    """Window, step and binning in original pixels, the lattice and the model's parts."""
    lattice = resolve_lattice(image, config)
    parts = resolve_model(config, lattice)
    period = None if lattice is None else float(lattice.periods.min())
    window = config.window
    if window is None:
        window = _auto_window(image, lattice)
        if lattice is None:
            period = _period_or_none(image)
    for name, value in (("window", window), ("step", config.step)):
        if value is not None and (not isinstance(value, int | np.integer) or value < 1):
            raise InputError(f"{name} must be a positive number of pixels, got {value!r}")
    lattice_coder = "lattice" in (parts["decoder"], parts["encoder"])
    if config.binning == "auto":
        most = MAX_LATTICE_WINDOW if lattice_coder else MAX_AUTO_WINDOW
        binning = max(1, math.ceil(window / most))
    else:
        binning = int(config.binning)
        if binning < 1:
            raise InputError(f"binning must be a positive integer, got {config.binning!r}")
    binning = min(binning, max(1, window // 8))  # keep >= 8 px per patch side
    if config.step is None:  # a multiple of the binning, so the grid is exact
        if period is None and lattice is None and config.window is not None:
            period = _period_or_none(image)
        step = auto_step(image.data.shape, window, period)
        step = max(1, round(step / binning)) * binning
    else:
        step = int(config.step)
        while step % binning:  # the given step must be a whole number of binned pixels
            binning -= 1
    return {
        "window": int(window),
        "step": int(step),
        "binning": binning,
        "period_px": period,
        "lattice": None if lattice is None else lattice.as_dict(),
        **parts,
        "coord_frequency": resolve_coord_frequency(config, window, period, image),
    }


def _auto_window(image: Image, lattice: Lattice | None) -> int:
    """1.5 cells with a lattice; 2.5 periods of the strongest planes without; 64 px (at
    most a quarter of the smaller side) with a warning when there is no periodicity."""
    side = min(image.data.shape)
    if lattice is not None:
        window = round(LATTICE_WINDOW_CELLS * float(lattice.periods.max()))
        log.info("lattice periods %s px: window %d px", lattice.periods.round(2).tolist(), window)
    else:
        try:
            period = float(estimate_period(image))
        except InputError as exc:
            window = min(NO_LATTICE_WINDOW, max(8, side // 4))
            log.warning(
                "no lattice found: default window of %d px and the paper's model "
                "(give --window or --lattice to choose)",
                window,
            )
            log.info("period estimate: %s", exc)
            return window
        window = round(WINDOW_PERIODS * period / 2) * 2
        log.info("estimated lattice period %.1f px: window %d px (2.5 periods)", period, window)
    return int(min(max(8, window), side))


def resolve_coord_frequency(
    config: FitConfig, window: int, period: float | None, image: Image
) -> float | None:
    """The decoder's sine-layer frequency in cycles per patch side (None: tanh layer).

    "auto": ``FREQUENCY_PER_PERIOD`` times the lattice periods per window, from the period
    estimate (made here if the window was given); an image without a clear lattice gets the
    value of the default window, 2.5 periods.
    """
    if config.coord_frequency != "auto":
        return config.coord_frequency
    if period is None:
        period = _period_or_none(image)
    periods = window / period if period else WINDOW_PERIODS
    return round(FREQUENCY_PER_PERIOD * periods, 3)


def _period_or_none(image: Image) -> float | None:
    try:
        return float(estimate_period(image))
    except InputError:
        return None


def auto_step(image_shape: tuple[int, ...], window: int, period: float | None = None) -> int:
    """Default grid step: window / 2 (the paper), smaller where that leaves too few patches.

    A small image cut at half the window gives a few hundred patches at most, too few to
    train on and too coarse a map to judge smoothness, so the step shrinks until about
    ``MIN_AUTO_PATCHES`` patches fit (never below window / 8, which bounds the cost).  With a
    known lattice ``period`` the step also keeps away from whole multiples of it: there the
    beating between grid and lattice becomes slow and would look like an order parameter.

    Examples
    --------
    >>> auto_step((4096, 4096), 64), auto_step((400, 380), 74)
    (32, 6)
    >>> auto_step((1024, 1024), 50, period=19.9)  # 19 px would be ~1 period
    16
    """
    rows, cols = (max(1, s - window + 1) for s in image_shape[:2])
    dense = int(math.sqrt(rows * cols / MIN_AUTO_PATCHES))
    step = max(1, window // 8, min(window // 2, dense))  # >= window/8 bounds the cost
    if period is None or period <= 0:
        return step
    for candidate in range(step, 0, -1):
        beat = candidate / period  # cycles of the lattice per map pixel
        if abs(beat - round(beat)) >= MIN_BEAT:
            return candidate
    return step


def auto_epochs(n_patches: int, batch_size: int) -> int:
    """Epochs for at least ``AUTO_STEPS`` optimisation steps, within ``AUTO_EPOCHS``.

    Examples
    --------
    >>> auto_epochs(4356, 100), auto_epochs(1638, 100), auto_epochs(100_000, 100)
    (57, 148, 50)
    """
    steps_per_epoch = max(1, math.ceil(n_patches / batch_size))
    low, high = AUTO_EPOCHS
    return int(min(high, max(low, math.ceil(AUTO_STEPS / steps_per_epoch))))


def _to_original(patches: Patches, binning: int) -> Patches:
    """Express patch centres and geometry in pixels of the unbinned image."""
    if binning == 1:
        return patches
    patches.centers = patches.centers * binning + (binning - 1) / 2
    return patches


def fit_image(
    image: Image,
    config: FitConfig | None = None,
    progress: bool = True,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    checkpoint_every: int = 0,
) -> FitResult:
    """Cut ``image`` into patches, train a (shift-)VAE, encode and map the latents back.

    ``checkpoint``, ``resume`` and ``checkpoint_every`` are passed to :meth:`ShiftVAE.fit`:
    with a checkpoint file, training state is saved every ``checkpoint_every`` epochs (0:
    every 10% of training) and on Ctrl-C, and ``resume=True`` continues from it; the result
    is the same as that of an uninterrupted run with the same seed (on the CPU).
    """
    config = config or FitConfig()
    check_fit_options(config)  # all options before any work
    timings: dict[str, float] = {}
    tic = time.perf_counter()
    geo = resolve_geometry(image, config)
    b = geo["binning"]
    work = bin_image(image, b)
    patches = extract_patches(
        work,
        window=max(2, geo["window"] // b),
        step=max(1, geo["step"] // b),
        normalize=config.normalize,
    )
    patches = _to_original(patches, b)
    check_patches(patches.data)
    if len(patches) < 2:
        raise InputError(
            f"only {len(patches)} patch fits the image with window {geo['window']} "
            f"and step {geo['step']}: use a smaller window or step"
        )
    log.info(
        "%d patches of %d x %d px (grid %d x %d, binning %d)",
        len(patches),
        *patches.data.shape[1:],
        *patches.grid_shape,
        b,
    )
    timings["patches"] = time.perf_counter() - tic
    if config.epochs == "auto":
        geo["epochs"] = auto_epochs(len(patches), config.batch_size)
        log.info("%d epochs (%d optimisation steps at least)", geo["epochs"], AUTO_STEPS)
    else:
        geo["epochs"] = config.epochs
    model = ShiftVAE(
        patches.data.shape[1:],
        latent_dim=config.latent_dim,
        shift=config.shift,
        shift_scale=config.shift_scale,
        likelihood=config.likelihood,
        hidden=config.hidden,
        decoder_hidden=config.decoder_hidden,
        encoder=geo["encoder"],
        coord_frequency=geo["coord_frequency"],
        position=geo["position"],
        decoder=geo["decoder"],
        lattice=_patch_lattice(geo, b),
        seed=config.seed,
    )
    model.metadata.update(geometry_metadata(image, patches, geo, config))
    tic = time.perf_counter()
    model.fit(
        patches,
        epochs=geo["epochs"],
        batch_size=config.batch_size,
        beta=(config.beta_start, config.beta_end),
        lr=config.lr,
        device=config.device,
        precision=config.precision,
        progress=progress,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        resume=resume,
    )
    timings["train"] = time.perf_counter() - tic
    tic = time.perf_counter()
    encoding = model.encode(patches)
    encoding.shift_mean *= b  # shifts in pixels of the original image
    encoding.shift_std *= b
    maps = latent_maps(encoding, patches, phases=config.phases, seed=config.seed)
    timings["encode_and_map"] = time.perf_counter() - tic
    metrics = map_metrics(maps, model)
    return FitResult(image, patches, model, encoding, maps, config, metrics, timings, geo)


def _patch_lattice(geo: dict[str, Any], binning: int) -> np.ndarray | None:
    """The lattice vectors in pixels of the (binned) patches, when the model uses them."""
    if geo["lattice"] is None or (
        "torus" not in (geo["position"],)
        and "lattice"
        not in (
            geo["decoder"],
            geo["encoder"],
        )
    ):
        return None
    return np.asarray(geo["lattice"]["vectors"], dtype=np.float64) / binning


def geometry_metadata(image: Image, patches: Patches, geo: dict, config: FitConfig) -> dict:
    """What a checkpoint needs to rebuild maps: grid, image, calibration, schedule, seed."""
    return {
        "window": geo["window"],
        "step": geo["step"],
        "binning": geo["binning"],
        "epochs": geo["epochs"],
        "coord_frequency": geo["coord_frequency"],
        "lattice": geo["lattice"],
        "position": geo["position"],
        "decoder": geo["decoder"],
        "encoder": geo["encoder"],
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
    return out
