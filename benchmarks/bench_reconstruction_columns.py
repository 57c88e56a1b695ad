"""Columns measured on the model's reconstruction against columns measured on the pixels.

The displacement-domain crystal (384 px, B moved by +-25 pm in two domains, default scan
jitter and drift), fitted with default options (seed 0).  Every patch is decoded from its
encoding, the reconstructions are stitched into one image (each weighted by a Gaussian of
a quarter of the window about its centre), and the same column measurement runs on it and
on the pixels; the RMS error of B's displacement along a1 (pm, the 28 px cell taken as
SrTiO3's 3.905 A) over the B columns both measured.

    .venv/bin/python benchmarks/bench_reconstruction_columns.py   # ~1 min
"""

import dataclasses
import time

import numpy as np

import shiftvae as sv
from shiftvae.analysis.columns import cage_displacements, find_columns
from shiftvae.pipeline import FitConfig, fit_image
from shiftvae.synthetic.crystal_scene import Microscope
from shiftvae.synthetic.crystals import displacement_domain_crystal

PM = 390.5 / 28


def stitch(recon, centers, shape):
    """One image from the patches' reconstructions (NaN where none reaches)."""
    n, w, _ = recon.shape
    acc = np.zeros(shape)
    wsum = np.zeros(shape)
    off = np.arange(w) - (w - 1) / 2
    g = np.exp(-(off[:, None] ** 2 + off[None, :] ** 2) / (2 * (w / 4) ** 2))
    for k in range(n):
        r = centers[k, 0] + off[:, None] + 0 * off[None, :]
        c = centers[k, 1] + off[None, :] + 0 * off[:, None]
        r0, c0 = np.floor(r).astype(int), np.floor(c).astype(int)
        fr, fc = r - r0, c - c0
        for dr, dc, wt in (
            (0, 0, (1 - fr) * (1 - fc)),
            (1, 0, fr * (1 - fc)),
            (0, 1, (1 - fr) * fc),
            (1, 1, fr * fc),
        ):
            rr, cc = r0 + dr, c0 + dc
            ok = (rr >= 0) & (rr < shape[0]) & (cc >= 0) & (cc < shape[1])
            np.add.at(acc, (rr[ok], cc[ok]), (wt * g * recon[k])[ok])
            np.add.at(wsum, (rr[ok], cc[ok]), (wt * g)[ok])
    out = np.where(wsum > 0.05 * wsum.max(), acc / np.maximum(wsum, 1e-12), np.nan)
    return out


def score(columns, truth):
    """{true B index: error (pm) along a1} of the B found within 2 px of a true B."""
    moved = cage_displacements(columns, 1).reshape(-1, 2)
    found = columns.positions[:, :, 1].reshape(-1, 2)
    _, index, error = truth.displacement_errors(found, moved)
    return dict(zip(index.tolist(), (error * PM).tolist()))


def main() -> None:
    for noise, ratio in ((0.16, 0.3), (0.08, 0.5)):
        d, t = displacement_domain_crystal(
            size=384,
            displacement=25 / PM,
            b_ratio=ratio,
            microscope=Microscope(noise_level=noise),
            seed=0,
        )
        tic = time.perf_counter()
        r = fit_image(sv.Image(d, None, "px", "x"), FitConfig(seed=0), progress=False)
        fit_s = time.perf_counter() - tic
        recon = r.model.decode(r.encoding)
        den = stitch(recon, r.patches.centers, d.shape)
        cover = np.isfinite(den)
        filled = np.where(cover, den, np.nanmin(den))
        lat = r.geometry.lattice
        pix = score(r.columns, t)
        cols = find_columns(filled, lat)
        # drop columns whose fit window touches uncovered pixels
        p = cols.positions.reshape(-1, 2)
        bad = ~np.isfinite(p).all(1)
        pi = np.clip(np.nan_to_num(np.rint(p)).astype(int), 0, np.array(d.shape) - 1)
        bad |= ~cover[pi[:, 0], pi[:, 1]]
        pos = cols.positions.copy().reshape(-1, 2)
        pos[bad] = np.nan
        cols = dataclasses.replace(cols, positions=pos.reshape(cols.positions.shape))
        rec = score(cols, t)
        common = sorted(set(pix) & set(rec))
        on_pixels = np.sqrt(np.mean([pix[i] ** 2 for i in common]))
        on_model = np.sqrt(np.mean([rec[i] ** 2 for i in common]))
        print(
            f"noise {noise} B/A {ratio}: pixels {on_pixels:.2f} pm, reconstruction "
            f"{on_model:.2f} pm over {len(common)} B (window {r.geometry.window}, centres "
            f"{r.geometry.centers}, fit {fit_s:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
