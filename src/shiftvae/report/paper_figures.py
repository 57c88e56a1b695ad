"""Matplotlib panels laid out like the paper's figures (used by ``shiftvae reproduce``).

Like :mod:`shiftvae.report.figures` every function returns a Figure and nothing here trains;
:func:`shiftvae.report.figures.save` writes a figure and closes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

Panel = tuple[str, np.ndarray, Mapping[str, np.ndarray]]


def _as_2d(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, float)
    if points.shape[1] > 1:
        return points[:, :2]
    return np.column_stack([points[:, 0], np.zeros(len(points))])


def latent_comparison(panels: Sequence[Panel], title: str = "", share_axes: bool = False) -> Figure:
    """Latent scatter plots side by side: one column per model, one row per colouring.

    Parameters
    ----------
    panels : sequence of (title, points (N, 2), {factor name: values (N,)})
        Every panel should list the same factors (e.g. sigma and mu).
    share_axes : bool
        Same axis limits in every panel, so a collapsed latent looks collapsed.

    Examples
    --------
    >>> fig = latent_comparison([("VAE", z, {"σ": sigma, "μ": mu})])  # doctest: +SKIP
    """
    rows = max(len(c) for _, _, c in panels)
    cols = len(panels)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.2 * rows), squeeze=False)
    for j, (name, points, colors) in enumerate(panels):
        pts = _as_2d(points)
        for i, (factor, values) in enumerate(colors.items()):
            ax = axes[i, j]
            sc = ax.scatter(pts[:, 0], pts[:, 1], c=values, s=3, cmap="viridis", rasterized=True)
            fig.colorbar(sc, ax=ax, label=factor, shrink=0.85)
            ax.set_title(f"{name}: by {factor}", fontsize=9)
            ax.set_xlabel("z1")
            ax.set_ylabel("z2")
    if share_axes:
        allpts = np.concatenate([_as_2d(p) for _, p, _ in panels])
        lo, hi = allpts.min(axis=0), allpts.max(axis=0)
        pad = 0.05 * np.maximum(hi - lo, 1e-6)
        for ax in axes.ravel():
            ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
            ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def sine_fit_maps(
    maps: Mapping[str, Mapping[str, np.ndarray]],
    values: Mapping[str, np.ndarray],
    params: Sequence[str] = ("mu", "sigma", "delta", "r2"),
) -> Figure:
    """Fitted-parameter maps over the latent grid: one row per model, one column per parameter.

    Parameters
    ----------
    maps : {model: {param: (n, n)}}
        ``maps[m][p][i, j]`` is the fit of the signal decoded at ``z1 = values[m][0][i]``,
        ``z2 = values[m][1][j]``.
    values : {model: (2, n)}
        Latent grid values of each model.
    """
    labels = {
        "mu": "fitted shift μ̂",
        "sigma": "fitted period σ̂",
        "delta": "amplitude δ̂",
        "r2": "fit R²",
    }
    fig, axes = plt.subplots(
        len(maps), len(params), figsize=(3.4 * len(params), 3.0 * len(maps)), squeeze=False
    )
    for i, (model, m) in enumerate(maps.items()):
        v = values[model]
        extent = (v[1][0], v[1][-1], v[0][0], v[0][-1])
        for j, p in enumerate(params):
            ax = axes[i, j]
            im = ax.imshow(m[p], origin="lower", extent=extent, aspect="auto", cmap="viridis")
            fig.colorbar(im, ax=ax, shrink=0.85)
            ax.set_title(f"{model}: {labels.get(p, p)}", fontsize=9)
            ax.set_xlabel("z2")
            ax.set_ylabel("z1")
    fig.tight_layout()
    return fig


def disentanglement_diagram(
    r2: np.ndarray, slope: np.ndarray, spreads: Sequence[float], noises: Sequence[float]
) -> Figure:
    """R² and slope (encoded / true shift) over mu spread (columns) and noise (rows)."""
    fig, axes = plt.subplots(
        1, 2, figsize=(2 * (0.9 * len(spreads) + 2.6), 0.7 * len(noises) + 2.0), squeeze=False
    )
    for ax, values, label, cmap, lims in (
        (axes[0, 0], r2, "R² of encoded shift vs μ", "viridis", (0, 1)),
        (axes[0, 1], slope, "slope encoded / true μ", "RdBu_r", (0, 2)),
    ):
        im = ax.imshow(values, origin="lower", aspect="auto", cmap=cmap, vmin=lims[0], vmax=lims[1])
        ax.set_xticks(range(len(spreads)), [f"±{s:g}" for s in spreads])
        ax.set_yticks(range(len(noises)), [f"{n:g}" for n in noises])
        ax.set_xlabel("μ spread (μ ~ U[-s, s])")
        ax.set_ylabel("noise amplitude")
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                ax.text(
                    j,
                    i,
                    f"{v:.2f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="k",
                    bbox={"fc": "w", "alpha": 0.6, "lw": 0, "pad": 1},
                )
        fig.colorbar(im, ax=ax, label=label, shrink=0.9)
        ax.set_title(label, fontsize=10)
    fig.tight_layout()
    return fig


def patch_gallery(patches: np.ndarray, n: int = 16, title: str = "") -> Figure:
    """The first ``n`` patches (N, h, w) in a square grid."""
    k = int(np.ceil(np.sqrt(min(n, len(patches)))))
    fig, axes = plt.subplots(k, k, figsize=(1.3 * k, 1.3 * k), squeeze=False)
    for idx, ax in enumerate(axes.ravel()):
        ax.set_axis_off()
        if idx < min(n, len(patches)):
            ax.imshow(patches[idx], cmap="gray", vmin=0, vmax=1)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def latent_density(
    points: np.ndarray, title: str = "", color: np.ndarray | None = None, label: str = ""
) -> Figure:
    """Encoded latent distribution: a scatter, coloured by ``color`` when given."""
    pts = _as_2d(points)
    fig, ax = plt.subplots(figsize=(4.4, 3.8))
    if color is None:
        ax.scatter(pts[:, 0], pts[:, 1], s=4, alpha=0.5, color="k", rasterized=True)
    else:
        sc = ax.scatter(pts[:, 0], pts[:, 1], s=4, c=color, cmap="viridis", rasterized=True)
        fig.colorbar(sc, ax=ax, label=label)
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def selected_maps(
    selections: Sequence[tuple[str, np.ndarray]], names: Sequence[str] = ("z1", "z2")
) -> Figure:
    """Latent maps of chosen runs: one row per run (label, maps (k, rows, cols))."""
    k = max(m.shape[0] for _, m in selections)
    fig, axes = plt.subplots(
        len(selections), k, figsize=(3.0 * k + 0.5, 2.6 * len(selections)), squeeze=False
    )
    for i, (label, maps) in enumerate(selections):
        for j in range(k):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < maps.shape[0]:
                im = ax.imshow(maps[j], cmap="RdBu_r", interpolation="nearest")
                fig.colorbar(im, ax=ax, shrink=0.8)
            ax.set_title(f"{label}: {names[j] if j < len(names) else j}", fontsize=8)
    fig.tight_layout()
    return fig
