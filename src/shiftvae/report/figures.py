"""Matplotlib figures for reports and papers (Agg backend; nothing here trains).

Every function returns a :class:`matplotlib.figure.Figure`; :func:`save` writes it as PNG and
closes it, so long sweeps do not accumulate open figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

DPI = 110


def save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as PNG and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def latent_scatter(
    points: np.ndarray,
    colors: dict[str, np.ndarray],
    labels: Sequence[str] = ("z1", "z2"),
    title: str = "",
) -> Figure:
    """Scatter of 2D latent points, one panel per colouring factor (e.g. mu, sigma)."""
    n = max(1, len(colors))
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.8), squeeze=False)
    pts = points if points.shape[1] > 1 else np.column_stack([points[:, 0], np.zeros(len(points))])
    for ax, (name, c) in zip(axes[0], colors.items()):
        sc = ax.scatter(pts[:, 0], pts[:, 1], c=c, s=4, cmap="viridis", rasterized=True)
        fig.colorbar(sc, ax=ax, label=name)
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1] if len(labels) > 1 else "")
        ax.set_title(f"coloured by {name}")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def traversal_grid(images: np.ndarray, values: np.ndarray, title: str = "") -> Figure:
    """Decoded latent manifold: an n x n grid of curves (1D) or patches (2D)."""
    n = images.shape[0]
    if images.ndim == 3:  # (n, n, L): small curves in a grid of axes
        fig, axes = plt.subplots(
            n, n, figsize=(0.7 * n + 1, 0.55 * n + 1), sharex=True, sharey=True, squeeze=False
        )
        for i in range(n):
            for j in range(n):
                ax = axes[n - 1 - i, j]
                ax.plot(images[i, j], lw=0.8, color="k")
                ax.set_xticks([])
                ax.set_yticks([])
        fig.supxlabel(f"z2 from {values[1][0]:.2g} to {values[1][-1]:.2g}")
        fig.supylabel(f"z1 from {values[0][0]:.2g} to {values[0][-1]:.2g}")
    else:  # (n, n, h, w): tile the patches
        h, w = images.shape[2:]
        mosaic = images[::-1].transpose(0, 2, 1, 3).reshape(n * h, n * w)
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.imshow(
            mosaic,
            cmap="gray",
            extent=(values[1][0], values[1][-1], values[0][0], values[0][-1]),
            aspect="auto",
        )
        ax.set_xlabel("z2")
        ax.set_ylabel("z1")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def motif_strip(motifs: np.ndarray, title: str = "class motifs") -> Figure:
    """One decoded motif per class side by side (K, h, w) or curves (K, L)."""
    k = len(motifs)
    fig, axes = plt.subplots(1, k, figsize=(1.6 * k + 0.4, 2.2), squeeze=False)
    for c, ax in enumerate(axes[0]):
        if motifs.ndim == 2:
            ax.plot(motifs[c], lw=0.8, color="k")
        else:
            ax.imshow(motifs[c], cmap="gray", vmin=motifs.min(), vmax=motifs.max())
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"class {c}", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def history_curves(history: dict[str, Sequence[float]], title: str = "Training") -> Figure:
    """Loss, reconstruction and KL per epoch, with beta on a second axis."""
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    epochs = np.arange(1, len(history["loss"]) + 1)
    for key in ("loss", "reconstruction", "kl"):
        ax.plot(epochs, history[key], label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats per sample")
    ax.set_yscale("log")
    ax2 = ax.twinx()
    ax2.plot(epochs, history["beta"], "k--", lw=0.8, label="beta")
    ax2.set_ylabel("beta")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def map_panels(
    maps: np.ndarray,
    names: Sequence[str],
    extent: tuple[float, float, float, float] | None = None,
    unit: str = "px",
    cmap: str = "RdBu_r",
    title: str = "",
) -> Figure:
    """One image per map (k, rows, cols), each with its own colour bar."""
    k = maps.shape[0]
    fig, axes = plt.subplots(1, max(k, 1), figsize=(4.2 * max(k, 1), 3.8), squeeze=False)
    for ax, m, name in zip(axes[0], maps, names):
        im = ax.imshow(m, cmap=cmap, extent=extent, interpolation="nearest")
        fig.colorbar(im, ax=ax, shrink=0.85)
        ax.set_title(name)
        ax.set_xlabel(unit)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_with_grid(
    image: np.ndarray,
    centers: np.ndarray,
    window: int,
    extent=None,
    unit: str = "px",
    title: str = "",
) -> Figure:
    """The image with the patch centres and one patch outline drawn on it."""
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    ax.imshow(image, cmap="gray")
    c = centers.reshape(-1, 2)
    ax.plot(c[:, 1], c[:, 0], ".", ms=1.5, color="tab:orange")
    r0, c0 = c[0] - (window - 1) / 2
    ax.add_patch(
        plt.Rectangle((c0 - 0.5, r0 - 0.5), window, window, fill=False, ec="tab:red", lw=1.2)
    )
    ax.set_title(title or f"patch grid (window {window} px)")
    ax.set_xlabel("col (px)")
    ax.set_ylabel("row (px)")
    fig.tight_layout()
    return fig


def phase_overlay(
    image: np.ndarray,
    phases: np.ndarray,
    centers: np.ndarray,
    step: int,
    title: str = "phases",
    label: str = "phase",
) -> Figure:
    """Phase (or class) labels drawn semi-transparently over the image."""
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    ax.imshow(image, cmap="gray")
    c = centers
    half = step / 2
    ext = (c[0, 0, 1] - half, c[0, -1, 1] + half, c[-1, 0, 0] + half, c[0, 0, 0] - half)
    n = int(phases.max()) + 1
    im = ax.imshow(
        phases,
        cmap=plt.get_cmap("tab10", n),
        alpha=0.45,
        extent=ext,
        interpolation="nearest",
        vmin=-0.5,
        vmax=n - 0.5,
    )
    fig.colorbar(im, ax=ax, ticks=range(n), shrink=0.85, label=label)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def heatmap(
    values: np.ndarray,
    xs: Sequence[float],
    ys: Sequence[float],
    xlabel: str,
    ylabel: str,
    label: str,
    title: str = "",
) -> Figure:
    """Annotated heat map (rows = ys, cols = xs), e.g. physicality over (beta_start, beta_end)."""
    fig, ax = plt.subplots(figsize=(1.0 * len(xs) + 2.5, 0.8 * len(ys) + 1.8))
    im = ax.imshow(values, cmap="viridis", origin="lower", aspect="auto")
    ax.set_xticks(range(len(xs)), [f"{x:g}" for x in xs])
    ax.set_yticks(range(len(ys)), [f"{y:g}" for y in ys])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=8, color="w")
    fig.colorbar(im, ax=ax, label=label)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def orientation_map(
    orientation: np.ndarray,
    symmetry: int,
    image: np.ndarray | None = None,
    extent: tuple[float, float, float, float] | None = None,
    unit: str = "px",
    title: str = "orientation",
    image_extent: tuple[float, float, float, float] | None = None,
) -> Figure:
    """Orientation (rows, cols) in degrees on a cyclic colour scale of period 360 / n, with a
    colour wheel as legend (a direction's colour, repeated n times round the wheel), beside
    the image when given."""
    period = 360.0 / max(1, int(symmetry))
    panels = 2 if image is None else 3
    fig = plt.figure(figsize=(4.4 * (panels - 1) + 2.6, 4.0))
    grid = fig.add_gridspec(1, panels, width_ratios=[1.0] * (panels - 1) + [0.6])
    axes = [fig.add_subplot(grid[0, i]) for i in range(panels - 1)]
    if image is not None:
        axes[0].imshow(image, cmap="gray", extent=image_extent)
        axes[0].set_title("image")
        axes[0].set_xlabel(unit)
    ax = axes[-1]
    wrapped = np.mod(orientation, period)
    ax.imshow(wrapped, cmap="hsv", vmin=0, vmax=period, extent=extent, interpolation="nearest")
    ax.set_title(title)
    ax.set_xlabel(unit)
    wheel = fig.add_subplot(grid[0, -1], projection="polar")
    theta = np.linspace(0, 2 * np.pi, 361)
    radius = np.linspace(0.5, 1.0, 2)
    tt, _ = np.meshgrid(theta, radius)
    wheel.pcolormesh(
        theta,
        radius,
        np.mod(np.degrees(tt), period),
        cmap="hsv",
        vmin=0,
        vmax=period,
        shading="auto",
    )
    wheel.set_yticks([])
    wheel.set_title(f"{symmetry}-fold: {period:g} deg period", fontsize=9)
    fig.tight_layout()
    return fig


def maps_grid(
    stacks: Sequence[np.ndarray], names: Sequence[str], limits: Sequence[tuple[float, float]]
) -> Figure:
    """Maps of several images (each (k, rows, cols)) in rows, one column per map, each
    column on one colour scale ``limits[k]`` with its colour bar."""
    n_img, n_maps = len(stacks), len(limits)
    fig, axes = plt.subplots(
        n_img, n_maps, figsize=(3.2 * n_maps + 1, 2.8 * n_img), squeeze=False, layout="constrained"
    )
    for i, (maps, name) in enumerate(zip(stacks, names)):
        for k, (low, high) in enumerate(limits):
            axes[i, k].imshow(maps[k], cmap="RdBu_r", vmin=low, vmax=high)
            axes[i, k].set_title(f"{name}: z{k + 1}", fontsize=9)
            axes[i, k].axis("off")
    for k in range(n_maps):
        fig.colorbar(axes[-1, k].images[0], ax=axes[:, k], shrink=0.6, label=f"z{k + 1}")
    return fig


def maps_movie(
    stacks: Sequence[np.ndarray],
    names: Sequence[str],
    limits: Sequence[tuple[float, float]],
    path: str | Path,
    fps: float = 2.0,
) -> Path:
    """The maps of several images as an animated GIF (matplotlib's Pillow writer), one frame
    per image, every map on its fixed colour scale."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    fig, axes = plt.subplots(1, len(limits), figsize=(3.2 * len(limits), 3.2), squeeze=False)
    shown = [
        ax.imshow(stacks[0][k], cmap="RdBu_r", vmin=lo, vmax=hi)
        for k, (ax, (lo, hi)) in enumerate(zip(axes[0], limits))
    ]
    for ax in axes[0]:
        ax.axis("off")
    title = fig.suptitle(names[0])

    def frame(i: int):
        for k, im in enumerate(shown):
            im.set_data(stacks[i][k])
        title.set_text(names[i])
        return [*shown, title]

    path = Path(path)
    FuncAnimation(fig, frame, frames=len(stacks)).save(path, writer=PillowWriter(fps=fps))
    plt.close(fig)
    return path


def strain_panels(strain, extent=None, unit: str = "px") -> Figure:
    """The GPA strain components (%) and rotation (degrees) side by side, each on a colour
    scale symmetric about zero up to its 99th percentile of |value| where the fringes are
    clear (elsewhere blank)."""
    names = [
        ("exx", "exx (%)"),
        ("eyy", "eyy (%)"),
        ("exy", "exy (%)"),
        ("rotation", "rotation (deg)"),
    ]
    fig, axes = plt.subplots(1, 4, figsize=(16.8, 3.8), squeeze=False)
    for ax, (key, title) in zip(axes[0], names):
        values = np.where(strain.clear, getattr(strain, key), np.nan)
        finite = np.abs(values[np.isfinite(values)])
        limit = max(float(np.percentile(finite, 99)) if finite.size else 0.0, 0.05)
        im = ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit, extent=extent)
        fig.colorbar(im, ax=ax, shrink=0.85)
        ax.set_title(title)
        ax.set_xlabel(unit)
        step = 1.0 if extent is None else extent[1] / values.shape[1]  # px -> axis units
        for d in getattr(strain, "dislocations", ()):
            ax.plot(d.col * step, d.row * step, marker="$\\perp$", ms=16, color="k", ls="")
    title = "strain and rotation against the image's median lattice (GPA)"
    if getattr(strain, "grains", None) is not None:
        title = "strain and rotation of each grain against the common cell turned to it (GPA)"
    if getattr(strain, "dislocations", ()):
        title += f"; {len(strain.dislocations)} dislocation core(s) marked"
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def displacement_arrows(
    image: np.ndarray,
    positions: np.ndarray,
    moved: np.ndarray,
    unit: str,
    significant: np.ndarray | None = None,
) -> Figure:
    """The image with each column's displacement from its cage as an arrow (drawn longer
    than life: the scale is in the title), and per cell its two components, magnitude and
    angle (blank where the displacement is within its error, when ``significant`` is
    given: the angle of noise means nothing)."""
    ok = np.isfinite(moved).all(-1) & np.isfinite(positions).all(-1)
    size = np.linalg.norm(moved, axis=-1)
    typical = float(np.nanpercentile(size[ok], 95)) if ok.any() else 0.0
    spacing = float(np.nanmedian(np.linalg.norm(np.diff(positions, axis=1), axis=-1)))
    gain = 0.4 * spacing / typical if typical > 0 else 1.0
    fig = plt.figure(figsize=(14.0, 5.6))
    grid = fig.add_gridspec(2, 4, width_ratios=[2.2, 1, 1, 0.05])
    arrows = fig.add_subplot(grid[:, 0])
    arrows.imshow(image, cmap="gray")
    p, m = positions[ok], moved[ok]
    arrows.quiver(
        p[:, 1], p[:, 0], m[:, 1] * gain, m[:, 0] * gain, size[ok], cmap="viridis",
        angles="xy", scale_units="xy", scale=1, width=0.004,
    )  # fmt: skip
    arrows.set_title(
        f"displacement from the cage (arrows: {typical:.3g} {unit} drawn {gain * typical:.0f} px)"
    )
    shown = ok if significant is None else ok & significant
    limit = max(typical, 1e-9)
    angle = np.degrees(np.arctan2(-moved[..., 0], moved[..., 1]))  # ccw from x, as displayed
    panels = [
        (moved[..., 1], f"x component ({unit})", "RdBu_r", -limit, limit),
        (moved[..., 0], f"y component ({unit}, down)", "RdBu_r", -limit, limit),
        (size, f"magnitude ({unit})", "viridis", 0, limit),
        (np.where(shown, angle, np.nan), "angle (deg, ccw from x)", "twilight", -180, 180),
    ]
    # each cell a square at its column, as in the image (a panel is about 200 pt wide)
    marker = (200 * spacing / max(image.shape)) ** 2
    for k, (values, title, cmap, lo, hi) in enumerate(panels):
        ax = fig.add_subplot(grid[k // 2, 1 + k % 2])
        keep = np.isfinite(values) & ok
        im = ax.scatter(
            positions[keep][:, 1], positions[keep][:, 0], c=values[keep], s=marker,
            marker="s", cmap=cmap, vmin=lo, vmax=hi, linewidths=0,
        )  # fmt: skip
        ax.set_xlim(0, image.shape[1])
        ax.set_ylim(image.shape[0], 0)
        ax.set_aspect("equal")
        fig.colorbar(im, ax=ax, shrink=0.8)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig
