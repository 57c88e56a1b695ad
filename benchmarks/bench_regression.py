"""Regression head (``fit --values``): a property measured at a few cells, predicted for all.

Two crystals with a known per-cell order parameter (``synthetic/crystals.py``): the B/A
intensity ratio field, and B columns displaced by +-d in two domains.  A few cells, drawn
at random, are given the truth's value at their centre in a values CSV; the fit predicts
every cell.  Scored against the truth at every patch centre:

- ``rmse``: root mean square error over the truth's spread over the image (0: perfect,
  1: no better than the mean);
- ``spearman``: rank correlation with the truth;
- ``cover``: share of cells whose truth lies within 2 error bars (ideal: about 0.95).

Baseline: the default fit (no values), with a least-squares line from its latents to the
same labelled values: what a user could do today by hand.  Each score is reported for every
seed; the table's entry is the worst.

Usage::

    python benchmarks/bench_regression.py --seeds 0 1 --values 5 20
    python benchmarks/bench_regression.py --table benchmarks/results/bench_regression.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

import shiftvae as sv
from shiftvae.synthetic.crystal_scene import Microscope
from shiftvae.synthetic.crystals import displacement_domain_crystal, intensity_ratio_crystal

CASES = {
    "ratio": lambda seed, noise: intensity_ratio_crystal(
        size=384, microscope=Microscope(noise_level=noise), seed=seed
    ),
    "domains": lambda seed, noise: displacement_domain_crystal(
        size=384, microscope=Microscope(noise_level=noise), seed=seed
    ),
}


def scores(pred: np.ndarray, truth: np.ndarray, std: np.ndarray | None) -> dict:
    out = {
        "rmse": float(np.sqrt(np.mean((pred - truth) ** 2)) / truth.std()),
        "spearman": float(spearmanr(pred, truth)[0]),
    }
    if std is not None:
        out["cover"] = float(np.mean(np.abs(pred - truth) <= 2 * std))
    return out


def run_case(case: str, seed: int, noise: float, counts: list[int]) -> dict:
    image, truth = CASES[case](seed, noise)
    tic = time.perf_counter()
    plain = sv.fit_image(image, sv.FitConfig(seed=seed), progress=False)
    centers = plain.patches.centers
    field = truth.field(centers)
    z = plain.encoding.z_mean
    out = {"case": case, "seed": seed, "noise": noise, "seconds_plain": time.perf_counter() - tic}
    rng = np.random.default_rng(seed)
    for n in counts:
        chosen = rng.choice(len(centers), n, replace=False)
        design = np.c_[z, np.ones(len(z))]
        coef = np.linalg.lstsq(design[chosen], field[chosen], rcond=None)[0]
        out[f"plain_{n}"] = scores(design @ coef, field, None)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "values.csv"
            rows = [f"{r:.2f},{c:.2f},{v:.6f}" for (r, c), v in zip(centers[chosen], field[chosen])]
            path.write_text("row,col,field\n" + "\n".join(rows) + "\n")
            tic = time.perf_counter()
            fit = sv.fit_image(image, sv.FitConfig(seed=seed, values=str(path)), progress=False)
            seconds = time.perf_counter() - tic
        pred, std = fit.encoding.values[:, 0], fit.encoding.value_std[:, 0]
        out[f"head_{n}"] = {**scores(pred, field, std), "seconds": seconds}
        print(case, seed, noise, n, out[f"plain_{n}"], out[f"head_{n}"], flush=True)
    return out


def table(rows: list[dict]) -> str:
    counts = sorted({int(k.split("_")[1]) for r in rows for k in r if k.startswith("head_")})
    lines = ["| case | values | baseline rmse / Spearman | head rmse / Spearman | 2-sigma cover |"]
    lines.append("|---|---|---|---|---|")
    for case, noise in sorted({(r["case"], r["noise"]) for r in rows}):
        mine = [r for r in rows if r["case"] == case and r["noise"] == noise]
        for n in counts:
            base = [r[f"plain_{n}"] for r in mine]
            head = [r[f"head_{n}"] for r in mine]
            worst = lambda s, k, f: f(x[k] for x in s)  # noqa: E731
            lines.append(
                f"| {case}@{noise:g} | {n} | {worst(base, 'rmse', max):.2f} / "
                f"{worst(base, 'spearman', min):.2f} | {worst(head, 'rmse', max):.2f} / "
                f"{worst(head, 'spearman', min):.2f} | {worst(head, 'cover', min):.2f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--noise", nargs="+", type=float, default=[0.08, 0.2])
    ap.add_argument("--values", nargs="+", type=int, default=[5, 20])
    ap.add_argument("--out", default="benchmarks/results/bench_regression.json")
    ap.add_argument("--table", help="print the table of a results file and stop")
    args = ap.parse_args(argv)
    if args.table:
        print(table(json.loads(Path(args.table).read_text())["runs"]))
        return 0
    runs = [
        run_case(case, seed, noise, args.values)
        for case in args.cases
        for noise in args.noise
        for seed in args.seeds
    ]
    Path(args.out).write_text(json.dumps({"argv": sys.argv[1:], "runs": runs}, indent=1))
    print(table(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
