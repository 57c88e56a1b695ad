"""Bayesian optimisation of the KL schedule (beta_start, beta_end) for physicality.

Optuna proposes betas (log scale, 0.1..10), each trial trains one model on a Dask cluster
(as for sweep), and the study is stored in DIR/study.db (SQLite) unless --storage names
another database, e.g. postgresql://user@host/db, so several machines can work on one study.
Running the same command again continues the study up to --trials completed trials.
With --grid SWEEP_CSV, the report says how many trainings tune needed to come within 5% of
the grid search's best physicality.

Examples:
  shiftvae tune scan.dm3 --out tune1 --trials 30
  shiftvae tune scan.dm3 --out tune1 --trials 40 --resume     # 10 more trials
  shiftvae tune scan.dm3 --out tune2 --trials 20 --storage sqlite:////shared/study.db
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import shutil
from pathlib import Path

from shiftvae.commands.fit import add_model_args, config_from_args, load_input, positive_int
from shiftvae.commands.sweep import add_executor_args, work_dir
from shiftvae.errors import InputError

log = logging.getLogger(__name__)


def add_args(p: argparse.ArgumentParser) -> None:
    add_model_args(p)
    p.add_argument("--trials", type=positive_int, default=30, help="completed trials wanted")
    p.add_argument("--storage", help="Optuna storage URL (default sqlite in --out)")
    p.add_argument("--grid", type=Path, help="sweep.csv of a grid search to compare with")
    add_executor_args(p)


def grid_best(path: Path) -> float:
    try:
        with open(path, newline="") as fh:
            values = [float(r["physicality"]) for r in csv.DictReader(fh) if r["status"] == "ok"]
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"cannot read the grid results {path}: {exc}") from exc
    if not values:
        raise InputError(f"{path} has no successful runs to compare with")
    return max(values)


def write_tune_report(out: Path, records, grid: float | None) -> dict:
    import matplotlib.pyplot as plt
    import numpy as np

    from shiftvae.report import figures
    from shiftvae.report.html import Section, write_report
    from shiftvae.tune import trainings_to_reach

    values = np.array([r["physicality"] for r in records])
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.plot(np.arange(1, len(values) + 1), values, "o", ms=4, label="trial")
    ax.plot(np.arange(1, len(values) + 1), np.maximum.accumulate(values), "-", label="best so far")
    if grid is not None:
        ax.axhline(grid, color="k", ls="--", lw=0.8, label="grid search best")
        ax.axhline(0.95 * grid, color="grey", ls=":", lw=0.8, label="within 5%")
    ax.set_xlabel("trial")
    ax.set_ylabel("physicality")
    ax.legend(fontsize=8)
    hist = figures.save(fig, out / "figures" / "optimisation_history.png")
    best = max(records, key=lambda r: r["physicality"])
    summary = {
        "best": best,
        "trials": len(records),
        "grid_best": grid,
        "trainings_to_within_5pct_of_grid": trainings_to_reach(records, grid)
        if grid is not None
        else None,
    }
    (out / "tune.json").write_text(json.dumps(summary, indent=2, default=float))
    rows = [
        [r["trial"], r["beta_start"], r["beta_end"], r["physicality"], r.get("final_loss", "")]
        for r in records
    ]
    text = (
        f"Best after {len(records)} trials: beta_start {best['beta_start']:.3g}, beta_end "
        f"{best['beta_end']:.3g}, physicality {best['physicality']:.4f}."
    )
    if grid is not None:
        n = summary["trainings_to_within_5pct_of_grid"]
        text += (
            f"\n\nGrid search best: {grid:.4f}; tune came within 5% after "
            f"{n if n is not None else 'more than ' + str(len(records))} trainings."
        )
    write_report(
        out / "report.html",
        "shiftvae tune",
        [
            Section(
                "Bayesian optimisation",
                text,
                figures=[(hist, "physicality per trial")],
                tables=[(["trial", "beta start", "beta end", "physicality", "final loss"], rows)],
            )
        ],
    )
    return summary


def main(args: argparse.Namespace) -> int:
    from shiftvae.tune import tune

    config = config_from_args(args)
    grid = grid_best(args.grid) if args.grid else None
    image = load_input(args)
    tmp = work_dir(args.out, args.resume, args.overwrite)
    records = tune(
        image,
        args.trials,
        config,
        tmp,
        storage=args.storage,
        workers=args.workers,
        scheduler=args.scheduler,
        seed=args.seed,
    )
    summary = write_tune_report(tmp, records, grid)
    best = summary["best"]
    if best.get("name"):
        shutil.copytree(tmp / "runs" / best["name"], tmp / "best", dirs_exist_ok=True)
    tmp.rename(args.out)
    log.info(
        "best beta %.3g -> %.3g, physicality %.4f after %d trials; wrote %s/report.html",
        best["beta_start"],
        best["beta_end"],
        best["physicality"],
        len(records),
        args.out,
    )
    return 0
