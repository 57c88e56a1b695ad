"""Strain and rotation against known truth: what GPA (``sv.strain_maps``) reads, worst case.

Images: square lattices (period 12 px, 512 x 512 px) of Gaussian columns (std 1.6 px) under
Poisson noise at several doses (counts at a column's peak, background 10% of it), with
optional scan row jitter.  Cases:

* ``perfect``: no strain; the false signal is the 99th percentile of |eps| and |omega|;
* ``film``: a smooth strain field, eps_xx = A cos(2 pi x / L), eps_yy = A cos(2 pi y / L),
  A = 3%, L = 256 px; the error is the RMS of (measured - true) over the maps' clear pixels;
* ``rotated``: the film turned by 7 degrees (lattice vectors not along the axes).

Scan jitter shifts each scan line along itself (a column spans several lines).  The error
bars (``StrainMaps.errors``) are scored against the truth averaged over the maps' own
resolution: RMS error over RMS predicted error, per component.

Each case runs at every dose and jitter; the table lists each, and the worst.

Displacement (``sv.analysis.columns``): the displacement-domain crystal (B columns moved by
+-d, 5 or 25 pm, along a1 in two domains, a curved wall, scan jitter 0 or 0.3 px and drift
2 px), cell 28 px taken as 3.905 A (SrTiO3), B/A brightness 0.3 to 0.8, noise 0.04 to 0.16;
the RMS error of each B column's displacement along a1 against the truth, in pm, and the
ratio of that error to the predicted standard error (``column_errors``; honest: 0.7-1.4).

Dislocations (``StrainMaps.dislocations``): 256 px square lattices (cell 9-12 px, turned at
random) with two edge dislocations (Burgers vector one cell, random sign and direction, the
isotropic elastic field), ten seeds per noise level and jitter; found, missed and invented
cores, the core's distance from the truth in cells and the Burgers vector's error in %.

    .venv/bin/python benchmarks/bench_physics.py            # ~3 min on 2 cores
    .venv/bin/python benchmarks/bench_physics.py --part dislocations
    .venv/bin/python benchmarks/bench_physics.py --part dose

Precision against dose (``--part dose``): the 25 pm domains (B/A 0.3 and 0.8, 0.3 px jitter)
recorded through an aberration-free Airy probe (21.4 mrad, 200 kV, source std 25 pm, 13.95
pm pixels) at 1e4 to 1e6 e/A^2 (5% of an A column's electrons reach the detector).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from shiftvae.analysis.strain import strain_maps

SIDE, PERIOD, WIDTH = 512, 12.0, 1.6
AMPLITUDE, WAVELENGTH = 0.03, 256.0
DOSES = (20, 100, 1000)
JITTERS = (0.0, 0.3)  # px std of each scan row's offset along the row
OUT = Path(__file__).parent / "results" / "bench_physics.json"


def displacement(r: np.ndarray, amplitude: float) -> np.ndarray:
    """u (row, col) at positions r (N, 2): the film's field."""
    k = 2 * np.pi / WAVELENGTH
    return amplitude / k * np.sin(k * r)  # u_row from the row, u_col from the col


def truth(shape, amplitude: float) -> dict[str, np.ndarray]:
    """True strain (%) at each pixel: the field at the undeformed point that lands there."""
    r = np.stack(np.mgrid[: shape[0], : shape[1]], -1).reshape(-1, 2).astype(float)
    r0 = r.copy()
    for _ in range(20):  # r0 + u(r0) = r
        r0 = r - displacement(r0, amplitude)
    k = 2 * np.pi / WAVELENGTH
    grad = amplitude * np.cos(k * r0)  # d u_row / d row, d u_col / d col
    # D of the deformed lattice relative to the reference, in the Lagrangian sense
    return {
        "eyy": 100 * grad[:, 0].reshape(shape),
        "exx": 100 * grad[:, 1].reshape(shape),
        "exy": np.zeros(shape),
        "rotation": np.zeros(shape),
    }


def image(amplitude: float, turn_deg: float, dose: float, jitter: float, seed: int):
    rng = np.random.default_rng(seed)
    turn = np.radians(turn_deg)
    cell = PERIOD * np.array([[np.cos(turn), np.sin(turn)], [-np.sin(turn), np.cos(turn)]])
    n = np.arange(-60, 60)
    sites = np.stack(np.meshgrid(n, n, indexing="ij"), -1).reshape(-1, 2) @ cell
    sites = sites + SIDE / 2
    sites = sites[(sites.min(1) > -10) & (sites.max(1) < SIDE + 10)]
    sites = sites + displacement(sites, amplitude)
    line = rng.normal(0, jitter, SIDE + 16)  # each scan line shifted along itself
    clean = np.zeros((SIDE, SIDE))
    for dr in range(-5, 6):
        for dc in range(-6, 7):
            r = np.rint(sites[:, 0]).astype(int) + dr
            c = np.rint(sites[:, 1]).astype(int) + dc
            keep = (r >= 0) & (r < SIDE) & (c >= 0) & (c < SIDE)
            seen = sites[:, 1] + line[np.clip(r, -8, SIDE + 7) + 8]  # where line r sees it
            d2 = (r - sites[:, 0]) ** 2 + (c - seen) ** 2
            np.add.at(clean, (r[keep], c[keep]), np.exp(-d2[keep] / (2 * WIDTH**2)))
    return rng.poisson(dose * (clean + 0.1)).astype(float), cell


def measure(case: str, dose: float, jitter: float, seed: int = 0) -> dict:
    amplitude = 0.0 if case == "perfect" else AMPLITUDE
    turn = 7.0 if case == "rotated" else 0.0
    data, cell = image(amplitude, turn, dose, jitter, seed)
    tic = time.perf_counter()
    maps = strain_maps(data, cell)
    seconds = time.perf_counter() - tic
    true = truth(data.shape, amplitude)
    row = {"case": case, "dose": dose, "jitter_px": jitter, "seconds": round(seconds, 2)}
    for k, name in enumerate(("exx", "eyy", "exy", "rotation")):
        measured = getattr(maps, name)[maps.clear].astype(np.float64)
        expected = true[name][maps.clear]
        # both against their own median lattice
        error = (measured - np.median(measured)) - (expected - np.median(expected))
        row[f"{name}_rms"] = round(float(np.sqrt(np.mean(error**2))), 4)
        row[f"{name}_p99_abs_error"] = round(float(np.percentile(np.abs(error), 99)), 4)
        # the error bars: the RMS error against the truth over the RMS predicted error
        # (honest: 0.7-1.4), and against the truth averaged over the maps' own resolution
        predicted = float(np.sqrt(np.mean(maps.errors[k][maps.clear] ** 2)))
        row[f"{name}_error_bar"] = round(predicted, 4)
        row[f"{name}_honesty"] = round(float(np.sqrt(np.mean(error**2))) / predicted, 2)
        local = ndimage.gaussian_filter(true[name], maps.resolution)[maps.clear]
        noise = (measured - np.median(measured)) - (local - np.median(local))
        row[f"{name}_honesty_averaged"] = round(float(np.sqrt(np.mean(noise**2))) / predicted, 2)
    row["resolution_px"] = round(maps.resolution, 1)
    row["clear_share"] = round(float(maps.clear.mean()), 3)
    return row


PM_PER_PX = 390.5 / 28.0  # a 28 px cell of SrTiO3


PROBE = {"convergence_mrad": 21.4, "energy_kv": 200.0, "source_pm": 25.0}
DOSES_E = (1e4, 3e4, 1e5, 1e6)  # e/A^2 through the probe


def displacement_row(
    noise: float,
    ratio: float,
    shift_px: float,
    jitter: float = 0.3,
    seed: int = 0,
    dose: float | None = None,
) -> dict:
    """RMS error (pm) of each B column's displacement along a1, measured from its A cage,
    and the RMS error over the RMS of the predicted standard error (1 is honest)."""
    from shiftvae.analysis.column_errors import column_errors
    from shiftvae.analysis.columns import cage_displacements, find_columns
    from shiftvae.lattice.estimate import estimate_lattice
    from shiftvae.synthetic.crystal_scene import Microscope
    from shiftvae.synthetic.crystals import displacement_domain_crystal

    scope = Microscope(noise_level=noise, scan_jitter=jitter)
    if dose is not None:  # through an Airy probe, Poisson noise from the dose
        scope = Microscope(scan_jitter=jitter, dose=dose, pixel_pm=PM_PER_PX, **PROBE)
    data, truth = displacement_domain_crystal(
        size=512, displacement=shift_px, b_ratio=ratio, microscope=scope, seed=seed
    )
    tic = time.perf_counter()
    columns = column_errors(find_columns(data, estimate_lattice(data)), data)
    seconds = time.perf_counter() - tic
    row = {"noise": noise, "b_ratio": ratio, "jitter_px": jitter, "dose_e_per_A2": dose}
    row["shift_pm"] = round(shift_px * PM_PER_PX, 1)
    row["sublattices"] = len(columns.sites)
    if len(columns.sites) < 2:
        row.update(rms_pm=None, bias_pm=None, predicted_pm=None, honesty=None, covered_2sd=None)
        row.update(columns=0, seconds=round(seconds, 2))
        return row
    site = 1
    moved = cage_displacements(columns, site).reshape(-1, 2)
    std = columns.displacement_std[:, :, site].reshape(-1, 2)
    found = columns.positions[:, :, site].reshape(-1, 2)
    moved[~np.isfinite(std).all(1)] = np.nan  # scored where the error bar exists
    rows, _, error = truth.displacement_errors(found, moved)
    error = error * PM_PER_PX
    axis = truth.lattice_vectors[0] / np.linalg.norm(truth.lattice_vectors[0])
    predicted = np.sqrt(std[rows] ** 2 @ axis**2) * PM_PER_PX
    rms = float(np.sqrt(np.mean(error**2)))
    row.update(
        rms_pm=round(rms, 2),
        bias_pm=round(float(np.mean(error)), 2),
        predicted_pm=round(float(np.sqrt(np.mean(predicted**2))), 2),
        honesty=round(rms / float(np.sqrt(np.mean(predicted**2))), 2),
        covered_2sd=round(float(np.mean(np.abs(error) < 2 * predicted)), 3),
        columns=len(rows),
        seconds=round(seconds, 2),
    )
    return row


def dislocation_row(noise: float, jitter: float, seeds: int = 10) -> dict:
    """Cores found, missed and invented over ``seeds`` images of two edge dislocations; the
    worst core distance (cells) and Burgers vector error (%) of those found."""
    from shiftvae.lattice.estimate import estimate_lattice
    from shiftvae.synthetic.crystal_scene import Microscope
    from shiftvae.synthetic.dislocations import edge_dislocations

    scope = Microscope(noise_level=noise, scan_jitter=jitter)
    found = missed = invented = 0
    distance, burgers = [], []
    for seed in range(seeds):
        cell = 9.0 + 3.0 * np.random.default_rng(seed).random()
        data, truth = edge_dislocations(size=256, cell=cell, cores=2, seed=seed, microscope=scope)
        cores = list(strain_maps(data, estimate_lattice(data)).dislocations)
        for core, b in zip(truth.cores, truth.burgers):
            near = [d for d in cores if np.hypot(d.row - core[0], d.col - core[1]) < 2 * cell]
            if not near:
                missed += 1
                continue
            d = min(near, key=lambda d: np.hypot(d.row - core[0], d.col - core[1]))
            cores.remove(d)
            found += 1
            distance.append(np.hypot(d.row - core[0], d.col - core[1]) / cell)
            burgers.append(100 * np.linalg.norm(d.burgers - b) / np.linalg.norm(b))
        invented += len(cores)
    return {
        "noise": noise,
        "jitter_px": jitter,
        "found": found,
        "missed": missed,
        "invented": invented,
        "core_cells_median": round(float(np.median(distance)), 2) if distance else None,
        "core_cells_max": round(float(np.max(distance)), 2) if distance else None,
        "burgers_error_pct_max": round(float(np.max(burgers)), 2) if burgers else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--part", choices=("all", "dislocations", "dose"), default="all")
    args = ap.parse_args()
    cores = [
        dislocation_row(noise, jitter) for jitter in (0.0, 0.3) for noise in (0.04, 0.08, 0.16, 0.3)
    ]
    for r in cores:
        print(
            f"dislocations, noise {r['noise']:.2f}, jitter {r['jitter_px']:.1f} px: "
            f"{r['found']} found, {r['missed']} missed, {r['invented']} invented; core within "
            f"{r['core_cells_max']} cells (median {r['core_cells_median']}), Burgers vector "
            f"within {r['burgers_error_pct_max']}%"
        )
    if args.part == "dislocations":
        return
    dosed = [
        displacement_row(0.0, ratio, 25.0 / PM_PER_PX, 0.3, dose=dose)
        for dose in DOSES_E
        for ratio in (0.3, 0.8)
    ]
    for r in dosed:
        print(
            f"displacement 25 pm through the probe, {r['dose_e_per_A2']:g} e/A^2, B/A "
            f"{r['b_ratio']:.1f}: RMS error {r['rms_pm']} pm, bias {r['bias_pm']} pm, "
            f"predicted {r['predicted_pm']} pm (ratio {r['honesty']}, {r['covered_2sd']} "
            "within 2 sd)"
        )
    if args.part == "dose":
        return
    rows = [
        measure(case, dose, jitter)
        for case in ("perfect", "film", "rotated")
        for dose in DOSES
        for jitter in JITTERS
    ]
    for r in rows:
        rms = max(r[f"{k}_rms"] for k in ("exx", "eyy", "exy"))
        p99 = max(r[f"{k}_p99_abs_error"] for k in ("exx", "eyy", "exy"))
        print(
            f"{r['case']:8s} dose {r['dose']:5g} jitter {r['jitter_px']:.1f}: "
            f"eps RMS {rms:.3f}% (p99 {p99:.3f}%), "
            f"rotation RMS {r['rotation_rms']:.3f} deg (p99 {r['rotation_p99_abs_error']:.3f}); "
            "error bars honest to "
            + ", ".join(f"{r[k + '_honesty']:.2f}" for k in ("exx", "eyy", "exy", "rotation"))
        )
    worst = {
        case: max(
            (r for r in rows if r["case"] == case),
            key=lambda r: max(r["exx_rms"], r["eyy_rms"], r["exy_rms"]),
        )
        for case in ("perfect", "film", "rotated")
    }
    moved = [
        displacement_row(noise, ratio, shift / PM_PER_PX, jitter)
        for shift in (5.0, 25.0)
        for jitter in (0.0, 0.3)
        for noise in (0.04, 0.08, 0.16)
        for ratio in (0.3, 0.5, 0.8)
    ]
    for r in moved:
        print(
            f"displacement {r['shift_pm']:g} pm, jitter {r['jitter_px']:.1f} px, noise "
            f"{r['noise']:.2f}, B/A {r['b_ratio']:.1f}: {r['sublattices']} sublattices, RMS "
            f"error {r['rms_pm']} pm, bias {r['bias_pm']} pm, predicted {r['predicted_pm']} pm "
            f"(ratio {r['honesty']}, {r['covered_2sd']} within 2 sd) over {r['columns']} B"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "rows": rows,
                "worst": worst,
                "displacement": moved,
                "dose": dosed,
                "dislocations": cores,
            },
            indent=1,
        )
    )
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
