"""Plain data containers passed between the modules of shiftvae.

They hold NumPy arrays only (no torch), so every layer of the package can use them and they
pickle, compare and print cheaply.

Conventions used everywhere:

* Image axes are (row, col); positions and shifts are given in that order, in pixels.
* A shift of +1 along an axis means the pattern in the patch is displaced by one pixel toward
  increasing row (col) index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Image:
    """A single 2D image with its calibration.

    Attributes
    ----------
    data : ndarray, float32, shape (rows, cols)
    pixel_size : float or None
        Size of one pixel in ``unit`` (None when the file carries no calibration).
    unit : str
        Length unit of ``pixel_size`` ("nm", "px" when uncalibrated, ...).
    source : str
        Where the image came from (a path, or a description for generated data).
    metadata : dict
        Reader-specific extra information, JSON-serialisable.
    """

    data: np.ndarray
    pixel_size: float | None = None
    unit: str = "px"
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.data.shape)  # type: ignore[return-value]


@dataclass
class Patches:
    """Square patches cut from an image on a regular grid.

    Attributes
    ----------
    data : ndarray, float32, shape (N, h, w), values in [0, 1]
    centers : ndarray, float64, shape (N, 2)
        Patch centres (row, col) in pixels of the source image.
    grid_shape : (rows, cols)
        Layout of the patches; patch ``i`` sits at grid cell ``divmod(i, cols)``.
    window, step : int
        Patch side and grid step in pixels.
    image_shape : (rows, cols)
        Shape of the source image.
    pixel_size, unit : calibration of the source image.
    binning : int
        Image pixels averaged into one patch pixel per axis (centres stay in image pixels).
    """

    data: np.ndarray
    centers: np.ndarray
    grid_shape: tuple[int, int]
    window: int = 0
    step: int = 0
    image_shape: tuple[int, int] = (0, 0)
    pixel_size: float | None = None
    unit: str = "px"
    normalize: str | None = "image"
    binning: int = 1

    def __len__(self) -> int:
        return int(self.data.shape[0])


@dataclass
class Encoding:
    """Latent means and standard deviations for a set of inputs.

    Attributes
    ----------
    z_mean, z_std : ndarray, shape (N, l)
        Conventional latents.
    shift_mean, shift_std : ndarray, shape (N, d)
        Encoded shift in pixels (samples) of the input grid, axes (row, col) for images;
        shape (N, 0) for a plain VAE.
    phase_mean, phase_std : ndarray, shape (N, 2), or None
        With the torus position: the position as angles 2 pi (u, v) in (-pi, pi], u and v the
        fractional coordinates along the lattice vectors, and the wrapped normal's sigma.
    orientation_mean, orientation_std : ndarray, shape (N,), or None
        With a rotation latent: the pattern's orientation in degrees, counter-clockwise as
        displayed, in [-180 / n, 180 / n) for symmetry order n, and its std in degrees.
    scale_mean, scale_std : ndarray, shape (N, 1) or (N, 2), or None
        With scale latents: the relative lattice parameter (1: the motif's own size), one
        column (isotropic) or one per motif axis, and its std.
    class_probs : ndarray, shape (N, K), or None
        With classes: q(c | x), each row summing to one.
    values, value_std : ndarray, shape (N, P), or None
        With properties: the regression head's prediction of each, and its error bar (the
        latents' uncertainty carried through the head, plus the residual noise).
    """

    z_mean: np.ndarray
    z_std: np.ndarray
    shift_mean: np.ndarray
    shift_std: np.ndarray
    phase_mean: np.ndarray | None = None
    phase_std: np.ndarray | None = None
    orientation_mean: np.ndarray | None = None
    orientation_std: np.ndarray | None = None
    scale_mean: np.ndarray | None = None
    scale_std: np.ndarray | None = None
    class_probs: np.ndarray | None = None
    values: np.ndarray | None = None
    value_std: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.z_mean.shape[0])

    @property
    def classes(self) -> np.ndarray | None:
        """The most probable class of each input (N,), or None without classes."""
        return None if self.class_probs is None else self.class_probs.argmax(1)


@dataclass
class LatentMaps:
    """Latent means placed back on the patch grid.

    Attributes
    ----------
    z : ndarray, shape (l, rows, cols)
        Conventional latent maps (order parameters).
    shift : ndarray, shape (d, rows, cols)
        Shift maps in pixels (the moire between sampling grid and lattice).
    phases : ndarray of int, shape (rows, cols), or None
        Gaussian-mixture labels of the conventional latents.
    centers : ndarray, shape (rows, cols, 2)
        Patch centres (row, col) in pixels of the source image.
    pixel_size, unit : calibration; the map's own pixel is ``step * pixel_size``.
    lattice_phase : ndarray, shape (2, rows, cols), or None
        With the torus position: the position in the unit cell as angles 2 pi (u, v) in
        radians, (-pi, pi], along the lattice vectors a1 and a2.  ``fit_image`` gives it
        relative to one perfect lattice (:func:`~shiftvae.analysis.maps.geometric_phase`):
        the geometric phase, whose gradients are strain and rotation.
    orientation : ndarray, shape (rows, cols), or None
        With a rotation latent: orientation in degrees, [-180 / n, 180 / n).
    scale : ndarray, shape (1 or 2, rows, cols), or None
        With scale latents: the relative lattice parameter (isotropic, or per motif axis).
    registration : ndarray, shape (3, rows, cols), or None
        With the image registered (:mod:`shiftvae.lattice.registration`): its displacement
        field (row, col) in pixels of the image, mean removed, and its branch (1 beyond an
        antiphase boundary).
    class_probs : ndarray, shape (K, rows, cols), or None
        With classes: the probability of each class in every cell.
    values, value_std : ndarray, shape (P, rows, cols), or None
        With properties: each property's prediction in every cell and its error bar, in the
        units of the values given; ``value_names`` names them.
    z_smooth, z_smooth_std : ndarray, shape (l, rows, cols), or None
        The conventional maps averaged over neighbouring cells and their error bars
        (:func:`~shiftvae.analysis.smoothing.smooth_over_cells`); ``smoothing_px`` holds each
        map's Gaussian width in pixels, chosen by cross-validation.
    """

    z: np.ndarray
    shift: np.ndarray
    phases: np.ndarray | None = None
    centers: np.ndarray | None = None
    step: int = 1
    pixel_size: float | None = None
    unit: str = "px"
    lattice_phase: np.ndarray | None = None
    orientation: np.ndarray | None = None
    scale: np.ndarray | None = None
    registration: np.ndarray | None = None
    class_probs: np.ndarray | None = None
    values: np.ndarray | None = None
    value_std: np.ndarray | None = None
    value_names: tuple[str, ...] = ()
    z_smooth: np.ndarray | None = None
    z_smooth_std: np.ndarray | None = None
    smoothing_px: tuple[float, ...] = ()

    @property
    def classes(self) -> np.ndarray | None:
        """The most probable class of every cell (rows, cols), or None without classes."""
        return None if self.class_probs is None else self.class_probs.argmax(0)
