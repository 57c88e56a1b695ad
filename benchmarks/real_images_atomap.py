"""Polarisation of the PbTiO3/SrRuO3 supercrystal by shiftvae and by Atomap, side by side.

For the supercrystal image of ``../shared/data``: our
columns (``find_columns``; the site at the cell's centre measured from its cage of four
sublattice-0 columns) and Atomap's two-sublattice workflow (``atomap_columns.py``, in
``.venv-atomap``) on the same pixels.  The B columns both found (within 3 px) are compared:
the RMS difference of the two displacement vectors and the correlation of each component.
Writes ``docs/figures/real_polarisation_<name>.png`` (arrows by each tool, and the
components against each other) and ``benchmarks/results/real_images_atomap.json``.

    .venv/bin/python benchmarks/real_images_atomap.py    # ~1 min on 2 cores
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from scipy.spatial import cKDTree

import shiftvae as sv
from shiftvae.analysis.columns import cage_displacements, find_columns, to_picometres
from shiftvae.lattice.estimate import estimate_lattice

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
PEER = ROOT / ".venv-atomap" / "bin" / "python"
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
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(src, image=data, spacing=spacing)
        subprocess.run([str(PEER), str(ROOT / "benchmarks" / "atomap_columns.py"), src, dst],
                       check=True, timeout=1800, capture_output=True)  # fmt: skip
        peer = np.load(dst)
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


def main() -> None:
    if not PEER.is_file():
        raise SystemExit("no .venv-atomap: run  bash benchmarks/setup_atomap_env.sh  first")
    rows = []
    for name, (file, spacing) in IMAGES.items():
        row = compare(name, DATA / file, spacing)
        rows.append(row)
        print(json.dumps(row), flush=True)
    OUT.write_text(json.dumps({"rows": rows}, indent=1))


if __name__ == "__main__":
    main()
