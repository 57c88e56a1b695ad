"""HyperSpy in and out, without importing HyperSpy for what does not need it.

In: any object with HyperSpy's ``data`` and ``axes_manager`` (a ``Signal2D``, or a stack
whose navigation axes hold several images) becomes :class:`~shiftvae.types.Image` objects
with the signal axes' calibration.  Out: latent maps become a ``Signal2D`` whose navigation
axis runs over the latents and whose signal axes carry the patch grid's calibration; that
needs HyperSpy (the ``hyperspy`` extra).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shiftvae.errors import InputError, missing_extra
from shiftvae.io.registry import _to_nm
from shiftvae.io.validate import check_image
from shiftvae.types import Image, LatentMaps


def is_signal(obj: Any) -> bool:
    """Whether ``obj`` looks like a HyperSpy signal (``data`` and ``axes_manager``)."""
    return hasattr(obj, "axes_manager") and hasattr(obj, "data")


def signal_images(signal: Any) -> list[Image]:
    """The 2D images of a HyperSpy signal (several for a stack), calibrated in nm."""
    axes = list(signal.axes_manager.signal_axes)
    title = _title(signal)
    if len(axes) != 2:
        raise InputError(f"the HyperSpy signal {title!r} has {len(axes)} signal axes, not 2")
    pixel, unit = _to_nm(axes[0].scale, axes[0].units)
    data = np.asarray(signal.data)
    frames = data.reshape(-1, *data.shape[-2:])
    names = [title] if len(frames) == 1 else [f"{title} [{i}]" for i in range(len(frames))]
    return [Image(check_image(f, n), pixel, unit, n) for f, n in zip(frames, names)]


MAP_KINDS = {
    "z": ("latent maps", "latent", None),
    "shift": ("shift maps (px)", "axis", "px"),
    "orientation": ("orientation (deg)", None, "deg"),
    "scale": ("relative lattice parameter", "axis", None),
}


def maps_signal(maps: LatentMaps, title: str, which: str = "z") -> Any:
    """One kind of map as a HyperSpy ``Signal2D``: "z" (latents along navigation), "shift",
    "orientation" or "scale" (the last two from a fit with rotation or scale)."""
    if which not in MAP_KINDS:
        raise InputError(f"which must be one of {', '.join(MAP_KINDS)}, got {which!r}")
    data = getattr(maps, which)
    if data is None:
        raise InputError(f"these results have no {which} maps (fit with --rotation / --scale)")
    try:
        import hyperspy.api as hs
    except ImportError as exc:
        raise missing_extra("hyperspy", "hyperspy", "to_hyperspy()") from exc
    label, navigation, units = MAP_KINDS[which]
    signal = hs.signals.Signal2D(np.asarray(data))
    signal.metadata.General.title = f"{label} of {title}"
    if units:
        signal.metadata.Signal.quantity = f"{label.split(' (')[0]} ({units})"
    step = float(maps.step) * (maps.pixel_size or 1.0)
    unit = maps.unit if maps.pixel_size else "px"
    for axis, name, first in zip(signal.axes_manager.signal_axes, ("x", "y"), (1, 0)):
        axis.name, axis.units, axis.scale = name, unit, step
        axis.offset = float(maps.centers[0, 0, first]) * (maps.pixel_size or 1.0)
    if navigation and signal.axes_manager.navigation_axes:
        signal.axes_manager.navigation_axes[0].name = navigation
    return signal


def patches_signal(patches, step: int, title: str) -> Any:
    """Every cell's patch as a HyperSpy ``Signal2D``: navigation axes the cell grid (x, y,
    calibrated at the grid's step from the first cell's centre), signal axes the patch's
    pixels (calibrated at the binned pixel), so that ``signal.plot(navigator=maps)`` moves
    over a map and shows each cell's patch."""
    try:
        import hyperspy.api as hs
    except ImportError as exc:
        raise missing_extra("hyperspy", "hyperspy", "to_hyperspy('patches')") from exc
    rows, cols = patches.grid_shape
    data = np.asarray(patches.data).reshape(rows, cols, *patches.data.shape[1:])
    signal = hs.signals.Signal2D(data)
    signal.metadata.General.title = f"patches of {title}"
    px = patches.pixel_size or 1.0
    unit = patches.unit if patches.pixel_size else "px"
    first = np.asarray(patches.centers[0], dtype=np.float64)
    nav = signal.axes_manager.navigation_axes  # x (columns), then y (rows)
    for axis, name, origin in zip(nav, ("x", "y"), (first[1], first[0])):
        axis.name, axis.units, axis.scale, axis.offset = name, unit, step * px, origin * px
    h, w = patches.data.shape[1:]
    for axis, name, n in zip(signal.axes_manager.signal_axes, ("patch x", "patch y"), (w, h)):
        axis.name, axis.units, axis.scale = name, unit, patches.binning * px
        axis.offset = -(n - 1) / 2 * patches.binning * px
    return signal


def image_maps_signal(
    stack: np.ndarray,
    title: str,
    label: str,
    units: str,
    pixel_size: float | None,
    unit: str,
    names: tuple[str, ...] = (),
) -> Any:
    """Maps over the image's own pixels (strain, rotation) as a HyperSpy ``Signal2D``: one
    map per navigation index (named by ``names``), signal axes calibrated like the image."""
    try:
        import hyperspy.api as hs
    except ImportError as exc:
        raise missing_extra("hyperspy", "hyperspy", "to_hyperspy()") from exc
    signal = hs.signals.Signal2D(np.asarray(stack, dtype=np.float32))
    signal.metadata.General.title = f"{label} of {title}"
    signal.metadata.Signal.quantity = f"{label} ({units})"
    for axis, name in zip(signal.axes_manager.signal_axes, ("x", "y")):
        axis.name, axis.scale = name, float(pixel_size or 1.0)
        axis.units = unit if pixel_size else "px"
    if names and signal.axes_manager.navigation_axes:
        signal.axes_manager.navigation_axes[0].name = "component: " + ", ".join(names)
    return signal


def image_signal(
    image: Image,
    points: list[np.ndarray] = (),
    arrows: list[tuple[np.ndarray, np.ndarray]] = (),
) -> Any:
    """The image as a HyperSpy ``Signal2D`` with calibrated axes and permanent markers:
    ``points`` (one (N, 2) array of (row, col) px per sublattice, each its own colour) and
    ``arrows`` ((N, 2) (row, col) px start, (N, 2) (row, col) px length) pairs."""
    try:
        import hyperspy.api as hs
    except ImportError as exc:
        raise missing_extra("hyperspy", "hyperspy", "to_hyperspy()") from exc
    signal = hs.signals.Signal2D(np.asarray(image.data, dtype=np.float32))
    signal.metadata.General.title = image.source or "image"
    scale = float(image.pixel_size or 1.0)
    for axis, name in zip(signal.axes_manager.signal_axes, ("x", "y")):
        axis.name, axis.scale = name, scale
        axis.units = image.unit if image.pixel_size else "px"
    colours = ("red", "cyan", "yellow", "magenta", "lime", "orange")
    for k, where in enumerate(points):
        xy = np.asarray(where, float)[:, ::-1] * scale
        xy = xy[np.isfinite(xy).all(1)]
        marker = hs.plot.markers.Points(offsets=xy, color=colours[k % len(colours)], sizes=4)
        signal.add_marker(marker, permanent=True, plot_marker=False)
    for start, length in arrows:
        ok = np.isfinite(start).all(1) & np.isfinite(length).all(1)
        xy, uv = start[ok][:, ::-1] * scale, length[ok][:, ::-1] * scale
        marker = hs.plot.markers.Arrows(
            offsets=xy,
            U=uv[:, 0],
            V=uv[:, 1],
            color="white",
            angles="xy",
            scale_units="xy",
            scale=1,
        )  # y runs down the image, as the rows do
        signal.add_marker(marker, permanent=True, plot_marker=False)
    return signal


def _title(signal: Any) -> str:
    try:
        return str(signal.metadata.General.title) or "HyperSpy signal"
    except AttributeError:
        return "HyperSpy signal"


__all__ = ["image_maps_signal", "image_signal", "is_signal", "maps_signal", "signal_images"]
