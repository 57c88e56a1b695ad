"""Real images by shiftvae and by Atomap, side by side: the supercrystal's polarisation and
the perovskite's strain.

For the supercrystal image of ``../shared/data``: our
columns (``find_columns``; the site at the cell's centre measured from its cage of four
sublattice-0 columns) and Atomap's two-sublattice workflow (``atomap_columns.py``, in
``.venv-atomap``) on the same pixels.  The B columns both found (within 3 px) are compared:
the RMS difference of the two displacement vectors and the correlation of each component.
Writes ``docs/figures/real_polarisation_<name>.png`` (arrows by each tool, and the
components against each other) and ``benchmarks/results/real_images_atomap.json``.

The perovskite ADF image's strain: ours by GPA (``strain_maps``), Atomap's from its
positions of the brightest sublattice (``atomap_sublattice.py``: each column's four
neighbours at +-a1, +-a2 give the local deformation against the median cell, smoothed over
GPA's resolution); compared at the columns, each against its own median: RMS difference
and correlation per component.  Figure ``docs/figures/real_strain_perovskite.png``.

    .venv/bin/python benchmarks/real_images_atomap.py    # ~1 min on 2 cores
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from bench_physics_atomap import PEER, run_peer
from scipy.spatial import cKDTree

import shiftvae as sv
from shiftvae.analysis.columns import cage_displacements, find_columns, to_picometres
from shiftvae.analysis.strain import strain_maps
from shiftvae.lattice.estimate import estimate_lattice

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
FIGURES = ROOT / "docs" / "figures"
OUT = Path(__file__).parent / "results" / "real_images_atomap.json"
IMAGES = {  # name: (file, Atomap's A-A spacing in px)
    "supercrystal": ("pto_sro_supercrystal_haadf.hspy", 26.0),
}
# The perovskite ADF image is left out: its second sublattice sits between two A along one
# axis (fractional (0, 0.5) of a 29 x 42 px cell), not at the centre of a square of four,
# which is what atomap_columns.py's tutorial workflow assumes.


def ours(image: sv.Image):
    columns = find_columns(image, estimate_lattice(image))
    frac = np.abs((columns.sites + 0.5) % 1 - 0.5)
    site = int(np.argmin(np.abs(frac - 0.5).sum(1)))
    return columns.positions[:, :, site].reshape(-1, 2), cage_displacements(columns, site).reshape(
        -1, 2
    )


def atomap(data: np.ndarray, spacing: float):
    peer = run_peer("atomap_columns.py", image=data, spacing=spacing)
    return peer["b_rowcol"], peer["moved_rowcol"], float(peer["seconds"])


def compare(name: str, path: Path, spacing: float) -> dict:
    image = sv.read_image(path)
    data = np.asarray(image.data, dtype=np.float64)
    tic = time.perf_counter()
    b, moved = ours(image)
    seconds = time.perf_counter() - tic
    pb, pmoved, peer_seconds = atomap(data, spacing)
    ok = np.isfinite(b).all(1) & np.isfinite(moved).all(1)
    pok = np.isfinite(pb).all(1) & np.isfinite(pmoved).all(1)
    b, moved, pb, pmoved = b[ok], moved[ok], pb[pok], pmoved[pok]
    distance, index = cKDTree(pb).query(b)
    both = distance < 3
    mine, theirs = moved[both], pmoved[index[both]]
    scale, unit = to_picometres(1.0, image)
    difference = (mine - theirs) * scale
    row = {
        "image": name,
        "unit": unit,
        "shiftvae_columns": len(b),
        "atomap_columns": len(pb),
        "both": int(both.sum()),
        "rms_difference": round(float(np.sqrt(np.mean(np.sum(difference**2, 1)))), 2),
        "median_length_shiftvae": round(float(np.median(np.hypot(*mine.T)) * scale), 2),
        "median_length_atomap": round(float(np.median(np.hypot(*theirs.T)) * scale), 2),
        "correlation_row": round(float(np.corrcoef(mine[:, 0], theirs[:, 0])[0, 1]), 3),
        "correlation_col": round(float(np.corrcoef(mine[:, 1], theirs[:, 1])[0, 1]), 3),
        "seconds_shiftvae": round(seconds, 1),
        "seconds_atomap": round(peer_seconds, 1),
    }
    figure(name, data, b[both], mine * scale, theirs * scale, unit, row, spacing)
    return row


def figure(name, data, where, mine, theirs, unit, row, spacing) -> None:
    """Each tool's arrows over the image (the 95th percentile as long as 0.8 cell), and
    the components against each other."""
    longest = float(np.percentile(np.hypot(*np.vstack([mine, theirs]).T), 95)) or 1.0
    fig = plt.figure(figsize=(14, 10), layout="constrained")
    grid = fig.add_gridspec(3, 2, height_ratios=[1, 1, 1.6])
    for k, (values, title) in enumerate(((mine, "shiftvae"), (theirs, "Atomap"))):
        ax = fig.add_subplot(grid[k, :])
        ax.imshow(data, cmap="gray")
        ax.quiver(where[:, 1], where[:, 0], values[:, 1], -values[:, 0], np.hypot(*values.T),
                  cmap="autumn", angles="xy", scale_units="xy", scale=longest / (0.8 * spacing),
                  clim=(0, longest), width=0.002)  # fmt: skip
        ax.set_title(f"{title}: each B from the centre of its four A ({unit})")
        ax.axis("off")
    ax = fig.add_subplot(grid[2, 0])
    for k, label in enumerate(("row", "col")):
        ax.scatter(
            theirs[:, k], mine[:, k], s=8, label=f"{label}: r = {row['correlation_' + label]}"
        )
    ax.axline((0, 0), slope=1, color="k", lw=0.8)
    ax.set_xlabel(f"Atomap ({unit})")
    ax.set_ylabel(f"shiftvae ({unit})")
    ax.set_title(f"{row['both']} columns both found: RMS difference {row['rms_difference']} {unit}")
    ax.legend()
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURES / f"real_polarisation_{name}.png", dpi=70)
    plt.close(fig)


def atomap_strain(image: sv.Image) -> dict:
    """Our GPA strain beside the strain of Atomap's column positions, at those columns."""
    lattice = estimate_lattice(image)
    maps = strain_maps(image, lattice)
    separation = int(0.8 * lattice.periods.min())
    data = np.asarray(image.data, np.float64)
    columns = run_peer("atomap_sublattice.py", image=data, separation=separation)["a_rowcol"]
    ideal = np.vstack([lattice.vectors, -lattice.vectors])
    tree = cKDTree(columns)
    local = np.full((len(columns), 2, 2), np.nan)
    for i, p in enumerate(columns):
        distance, j = tree.query(p + ideal)
        if (distance < 0.3 * lattice.periods.min()).all():
            local[i] = np.linalg.lstsq(ideal, columns[j] - p, rcond=None)[0].T
    whole = np.isfinite(local).all((1, 2))
    d = np.einsum("nij,jk->nik", local, np.linalg.inv(np.nanmedian(local, 0))) - np.eye(2)
    theirs = {"exx": d[:, 1, 1], "eyy": d[:, 0, 0], "exy": (d[:, 0, 1] + d[:, 1, 0]) / 2}
    weight = np.exp(-np.sum((columns[:, None] - columns[None]) ** 2, -1) / (2 * maps.resolution**2))
    weight *= whole[None]
    row = {"image": "perovskite", "columns": int(whole.sum())}
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.3), layout="constrained")
    for ax, name in zip(axes, ("exx", "eyy", "exy")):
        smooth = 100 * (weight @ np.where(whole, theirs[name], 0)) / weight.sum(1)
        ours_at = ndimage_at(getattr(maps, name), columns)
        a, b = smooth[whole] - np.median(smooth[whole]), ours_at[whole] - np.median(ours_at[whole])
        row[f"{name}_rms_difference_pct"] = round(float(np.sqrt(np.mean((a - b) ** 2))), 3)
        row[f"{name}_correlation"] = round(float(np.corrcoef(a, b)[0, 1]), 2)
        limit = float(np.percentile(np.abs(b), 98))
        values = np.where(maps.clear, getattr(maps, name) - np.median(ours_at[whole]), np.nan)
        ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.scatter(columns[whole, 1], columns[whole, 0], c=a, cmap="RdBu_r", vmin=-limit,
                   vmax=limit, s=40, edgecolors="k", linewidths=0.5)  # fmt: skip
        ax.set_title(f"{name} (%), r = {row[name + '_correlation']}")
        ax.axis("off")
        axes[3].scatter(a, b, s=8, label=name)
    axes[3].axline((0, 0), slope=1, color="k", lw=0.8)
    axes[3].set_xlabel("from Atomap's columns (%)")
    axes[3].set_ylabel("shiftvae, GPA (%)")
    axes[3].legend()
    fig.savefig(FIGURES / "real_strain_perovskite.png", dpi=70)
    plt.close(fig)
    return row


def ndimage_at(values: np.ndarray, points: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return ndimage.map_coordinates(values.astype(np.float64), points.T, order=1)


def main() -> None:
    if not PEER.is_file():
        raise SystemExit("no .venv-atomap: run  bash benchmarks/setup_atomap_env.sh  first")
    rows = []
    for name, (file, spacing) in IMAGES.items():
        row = compare(name, DATA / file, spacing)
        rows.append(row)
        print(json.dumps(row), flush=True)
    row = atomap_strain(sv.read_image(DATA / "perovskite_adf_atomap.hdf5"))
    rows.append(row)
    print(json.dumps(row), flush=True)
    OUT.write_text(json.dumps({"rows": rows}, indent=1))


if __name__ == "__main__":
    main()
