"""Geometry of an image fit: the lattice, the model's parts, window, step, binning, epochs.

Every default of ``fit`` that is derived from the image is decided here, from the image
and a :class:`~shiftvae.pipeline.FitConfig`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from shiftvae.data.patches import WINDOW_PERIODS, estimate_period
from shiftvae.errors import InputError
from shiftvae.lattice.centers import check_lattice_option
from shiftvae.lattice.estimate import MIN_LATTICE_SIDE, Lattice, NoLatticeError, estimate_lattice
from shiftvae.lattice.grid import lattice_block_shape
from shiftvae.model.pose import canonical_lattice, symmetry_coherence
from shiftvae.pipeline.config import FitConfig
from shiftvae.types import Image

log = logging.getLogger(__name__)


MAX_AUTO_WINDOW = 24  # px after binning: the coordinate decoder's cost grows with pixels
MAX_LATTICE_WINDOW = 96  # px after binning for the lattice coder (its cost is ~ n * P)
MAX_CANVAS_WINDOW = 64  # px after binning for the canvas decoder (~60 ms a step on 2 cores)
LATTICE_WINDOW_CELLS = 1.5  # automatic window with a lattice: 1.5 times the longer period
MIN_CELLS_FOR_ATOMS = 8  # centers="auto": patches on the columns from 8 x 8 cells up ...
RECTANGULAR = (75.0, 105.0)  # ... of a lattice this close to rectangular (degrees)
NO_LATTICE_WINDOW = 32  # automatic window when the image shows no lattice (at most side / 4)
MIN_AUTO_PATCHES = 2500  # the default step shrinks below window/2 until about this many fit
MIN_BEAT = 0.2  # cycles per map pixel: the default step keeps the grid-lattice beating fast
FREQUENCY_PER_PERIOD = 2.0  # auto coord_frequency: twice the lattice periods per patch side
AUTO_STEPS = 2500  # epochs="auto": at least this many optimisation steps ...
AUTO_EPOCHS = (50, 400)  # ... within these bounds on the number of epochs
LATTICE_TOLERANCE = 0.03  # relative difference of lattice vectors accepted across images


@dataclass(frozen=True, eq=False)
class Geometry(Mapping):
    """Everything a fit decided about its image: grid, lattice, model parts and schedule.

    Built once per source: :func:`resolve_geometry` (from an image and a config),
    :meth:`from_model` (what a saved model recorded), :meth:`on_image` (the same geometry
    with the lattice placed on another image), and :meth:`from_dict` (``results.h5``,
    ``run.json``).  :meth:`as_dict` writes the keys those files have always had, so files
    written before this class load and files written now read as before.  It also reads as
    that mapping (``geometry["window"]``) for code written against it.
    """

    window: int
    step: int
    binning: int = 1
    period_px: float | None = None
    lattice: Lattice | None = None
    # files written before the lattice model name none of these: they were the paper's model
    position: str = "gaussian"
    decoder: str = "coordinate"
    encoder: str = "mlp"
    coord_frequency: float | None = None
    centers: str = "grid"
    rotation: int = 0
    ring_period: float | None = None
    motif_lattice: tuple[tuple[float, float], tuple[float, float]] | None = None
    background: float | None = None  # px; None: the image is kept (and models saved before)
    # True: the image's plane is removed before the blur; models saved before it: the blur alone
    background_plane: bool = False
    likelihood: str | None = None  # None: a model saved before, which recorded no choice
    epochs: int | None = None
    series: tuple[str, ...] | None = None
    transfer: bool = False

    # written only when set, as before
    _OPTIONAL = ("epochs", "series", "transfer", "background_plane")

    def as_dict(self) -> dict[str, Any]:
        """The JSON-ready mapping of ``results.h5`` and ``run.json`` (lists, floats)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in self._OPTIONAL and not value:
                continue
            if f.name == "lattice" and value is not None:
                value = value.as_dict()
            elif f.name in ("motif_lattice", "series") and value is not None:
                value = [list(v) if isinstance(v, tuple) else v for v in value]
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Geometry:
        """The geometry of :meth:`as_dict`, or of a file written before (missing keys take
        their defaults; unknown keys are ignored)."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in values.items() if k in known}
        if kwargs.get("lattice") is not None:
            kwargs["lattice"] = Lattice.from_dict(kwargs["lattice"])
        if kwargs.get("motif_lattice") is not None:
            kwargs["motif_lattice"] = tuple(tuple(map(float, v)) for v in kwargs["motif_lattice"])
        if kwargs.get("series") is not None:
            kwargs["series"] = tuple(kwargs["series"])
        kwargs["rotation"] = int(kwargs.get("rotation") or 0)
        kwargs["transfer"] = bool(kwargs.get("transfer", False))
        kwargs["background_plane"] = bool(kwargs.get("background_plane", False))
        return cls(**kwargs)

    @classmethod
    def from_model(cls, metadata: Mapping[str, Any]) -> Geometry:
        """The geometry a model trained by ``fit`` recorded in its metadata (the frames of a
        series it was trained on stay with the model)."""
        return replace(cls.from_dict(metadata), series=None)

    def on_image(self, image: Image, against: str, advice: str) -> Geometry:
        """This geometry with its lattice placed on ``image`` (see :func:`relocate_lattice`);
        itself when its patches do not follow a lattice's origin (none, or a posed fit)."""
        if self.lattice is None or self.rotation:
            return self
        return replace(self, lattice=relocate_lattice(image, self.lattice, against, advice))

    def with_(self, **changes: Any) -> Geometry:
        """A copy with ``changes`` (the record is frozen)."""
        return replace(self, **changes)

    # read as the mapping of as_dict, for code written against the dict
    def __getitem__(self, key: str) -> Any:
        return self.as_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self.as_dict())


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


def resolve_model(config: FitConfig, lattice: Lattice | None, bare: bool = False):
    """Position, decoder and encoder for the "auto" options.

    With a lattice: the torus position and the lattice coder.  Without one: the paper's
    Gaussian shift and MLP encoder with the canvas decoder (drawn once per patch and moved by
    a phase ramp: as good as the paper's coordinate decoder on its studies, fewer jumps on the
    real images, and 6 to 10 times faster a step; docs/speed.md), except on a ``bare`` image (no
    periodicity at all, lattice "auto", no window given): there nothing repeats for a
    position latent to explain, so there is none ("none"), and the Fourier coder runs over
    the window itself (it was measured more accurate and faster there, see the docs).
    """
    if lattice is not None:
        picks = ("torus", "lattice", "lattice")
    elif bare:
        picks = ("none", "lattice", "lattice")
    else:
        picks = ("gaussian", "canvas", "mlp")
    names = ("position", "decoder", "encoder")
    return {
        name: pick if getattr(config, name) == "auto" else getattr(config, name)
        for name, pick in zip(names, picks)
    }


def resolve_geometry(image: Image, config: FitConfig) -> Geometry:
    """Window, step and binning in original pixels, the lattice and the model's parts."""
    lattice = resolve_lattice(image, config)
    posed = _posed(config)
    period = None if lattice is None else float(lattice.periods.min())
    if lattice is None and (config.window is None or config.step is None or posed):
        period = _period_or_none(image)
    ring = None
    if posed:  # the strongest planes' spacing: the pose anchor's ring and the window's unit
        ring = (
            period
            if lattice is None
            else float(1 / np.linalg.norm(lattice.reciprocal, axis=1).max())
        )
        if ring is None:
            raise InputError(
                "rotation and scale need a periodic image, and no lattice period was found; "
                "give --lattice"
            )
    bare = lattice is None and period is None and config.lattice == "auto"
    bare = bare and config.window is None
    parts = resolve_model(config, None if posed else lattice, bare)
    window = config.window
    if window is None:
        window = _auto_window(image, None if posed else lattice, ring or period)
    order, motif_lattice = 0, None
    if posed:
        order = resolve_pose(config, lattice, image, int(window), ring)
        motif_lattice = canonical_lattice(order, ring)
        if config.position == "auto":  # the position modulo the motif's own cell
            parts["position"] = "gaussian" if motif_lattice is None else "torus"
        if parts["position"] == "torus" and motif_lattice is None:
            raise InputError(
                f"--position torus with --rotation needs a 4- or 6-fold lattice, got {order}-fold"
            )
    for name, value in (("window", window), ("step", config.step)):
        if value is not None and (not isinstance(value, int | np.integer) or value < 1):
            raise InputError(f"{name} must be a positive number of pixels, got {value!r}")
    if config.binning == "auto":
        most = MAX_AUTO_WINDOW  # the coordinate decoder
        if parts["decoder"] == "canvas":
            most = MAX_CANVAS_WINDOW
        if "lattice" in (parts["decoder"], parts["encoder"]):
            most = MAX_LATTICE_WINDOW
        binning = max(1, math.ceil(window / most))
    else:
        binning = int(config.binning)
        if binning < 1:
            raise InputError(f"binning must be a positive integer, got {config.binning!r}")
    binning = min(binning, max(1, window // 8))  # keep >= 8 px per patch side
    if config.step is None:  # a multiple of the binning, so the grid is exact
        step = auto_step(image.data.shape, window, period)
        step = max(1, round(step / binning)) * binning
    else:
        step = int(config.step)
        while step % binning:  # the given step must be a whole number of binned pixels
            binning -= 1
    signal = resolve_signal(config, None if posed else lattice, image.data.shape)
    return Geometry(
        window=int(window),
        step=int(step),
        binning=binning,
        period_px=period,
        lattice=lattice,
        **parts,
        coord_frequency=resolve_coord_frequency(config, window, period, image),
        centers=resolve_centers(config, None if posed else lattice, image.data.shape, window),
        rotation=order,
        ring_period=ring,
        motif_lattice=None
        if motif_lattice is None
        else tuple(tuple(map(float, v)) for v in motif_lattice),
        **signal,
        background_plane=signal["background"] is not None,
    )


BACKGROUND_PERIODS = 8.0  # the "auto" background blur, in lattice periods


def resolve_signal(
    config: FitConfig, lattice: Lattice | None, shape: tuple[int, ...]
) -> dict[str, Any]:
    """The background blur (px or None) and the likelihood, "auto" resolved.

    Both "auto" choices belong to the lattice model, where they were measured (the
    registration family of :mod:`shiftvae.synthetic.alike_crystals` and the order-parameter
    family): the image minus its blur over 8 periods (at most a quarter of the image's
    smaller side, or a blur wider than the image would leave its gradient), and a Gaussian
    likelihood at the image's noise.  Without a lattice (the paper's model, a posed fit) the
    image is kept and the likelihood is the paper's Bernoulli.
    """
    background = config.background
    if background == "auto":
        if lattice is not None:
            background = min(BACKGROUND_PERIODS * float(lattice.periods.max()), min(shape) / 4)
        else:
            background = None
    likelihood = config.likelihood
    if likelihood == "auto":
        likelihood = "bernoulli" if lattice is None else "gaussian"
    return {
        "background": None if background is None else float(background),
        "likelihood": likelihood,
    }


def _posed(config: FitConfig) -> bool:
    return (
        getattr(config, "rotation", None) is not None or getattr(config, "scale", None) is not None
    )


def resolve_pose(
    config: FitConfig, lattice: Lattice | None, image: Image, window: int, ring: float
) -> int:
    """The rotation's symmetry order (0: no rotation latent).

    "auto": from the lattice's shape where one was found (two periods within 10% at 90 +- 8
    degrees: 4; at 60 or 120 +- 8 degrees: 6; else 2); without one (a polycrystal shows a
    ring, not spots), from the patches: the order 2, 4 or 6 whose m-fold coherence of the
    power spectrum (:func:`~shiftvae.model.pose.symmetry_coherence`) is highest on 256 windows.
    """
    order = getattr(config, "rotation", None)
    if order is None:
        return 0
    if order != "auto":
        return int(order)
    if lattice is not None:
        a, b = lattice.periods
        angle = lattice.angle_deg
        if abs(a - b) <= 0.1 * max(a, b):
            if abs(angle - 90) <= 8:
                return 4
            if min(abs(angle - 60), abs(angle - 120)) <= 8:
                return 6
        return 2
    rng = np.random.default_rng(0)
    rows, cols = (s - window + 1 for s in image.data.shape)
    corners = np.column_stack([rng.integers(0, rows, 256), rng.integers(0, cols, 256)])
    windows = np.stack([image.data[r : r + window, c : c + window] for r, c in corners])
    scores = {m: symmetry_coherence(windows, ring, m) for m in (2, 4, 6)}
    order = max(scores, key=scores.get)
    log.info("rotation symmetry %d-fold (coherence %s)", order, scores)
    return order


def resolve_centers(config: FitConfig, lattice: Lattice | None, shape, window: int) -> str:
    """Patch centres: "auto" is "atoms" with a near-rectangular lattice (75 to 105 degrees)
    whose block of whole cells inside the image is at least 8 x 8 (the order-parameter
    benchmark: as good as the square grid on every case, and far better at high noise),
    else the paper's square grid.  A hexagonal or oblique lattice keeps the grid: its
    largest block of whole cells is a parallelogram covering about half the image.  Column
    positions given (``columns``) are "atoms"."""
    centers = getattr(config, "centers", "grid")
    if getattr(config, "columns", None):  # centred on the columns given
        return "atoms"
    if centers != "auto":
        return centers
    if lattice is None or not RECTANGULAR[0] <= lattice.angle_deg <= RECTANGULAR[1]:
        return "grid"
    try:
        rows, cols = lattice_block_shape(tuple(shape), lattice, int(window))
    except InputError:
        return "grid"
    return "atoms" if min(rows, cols) >= MIN_CELLS_FOR_ATOMS else "grid"


def _auto_window(image: Image, lattice: Lattice | None, period: float | None) -> int:
    """1.5 cells with a lattice; 2.5 periods of the strongest planes without; 32 px (at
    most a quarter of the smaller side) with a warning when there is no periodicity."""
    side = min(image.data.shape)
    if lattice is not None:
        window = round(LATTICE_WINDOW_CELLS * float(lattice.periods.max()))
        log.info("lattice periods %s px: window %d px", lattice.periods.round(2).tolist(), window)
    elif period is None:
        window = min(NO_LATTICE_WINDOW, max(8, side // 4))
        log.warning(
            "no lattice found: default window of %d px and no position latent "
            "(give --window or --lattice to choose)",
            window,
        )
        return window
    else:
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


def relocate_lattice(
    image: Image,
    trained: Lattice | dict[str, Any] | None,
    against: str = "the model's",
    advice: str = "fit this image instead",
) -> Lattice:
    """The lattice ``trained`` (or its :meth:`Lattice.as_dict`) placed on ``image``: the same
    vectors at the origin found in ``image``, whose own vectors must agree within 3% (else
    an InputError comparing them with ``against`` and ending with ``advice``)."""
    if trained is None:
        raise InputError("the patches follow a lattice, but none was stored")
    if not isinstance(trained, Lattice):
        trained = Lattice.from_dict(trained)
    vectors = trained.vectors
    try:
        found = estimate_lattice(image)
    except NoLatticeError as exc:
        raise InputError(f"no lattice was found in {image.source} ({exc})") from exc
    # the same lattice may be found with either vector reversed or the two swapped
    options = [
        found.vectors[list(order)] * np.array(signs)[:, None]
        for order in ((0, 1), (1, 0))
        for signs in ((1, 1), (1, -1), (-1, 1), (-1, -1))
    ]
    diff = min(np.abs(v - vectors).max() for v in options)
    if diff / np.linalg.norm(vectors, axis=1).min() > LATTICE_TOLERANCE:
        raise InputError(
            f"the lattice of {image.source} {found.vectors.round(2).tolist()} px differs from "
            f"{against} {vectors.round(2).tolist()} px by more than "
            f"{LATTICE_TOLERANCE:.0%}: {advice}"
        )
    # the model's vectors, at the new image's origin
    return Lattice(vectors, found.origin, found.confidence)
