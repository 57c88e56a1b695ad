"""Bayesian optimisation of the KL schedule (beta_start, beta_end) for physicality.

Optuna proposes betas (log scale, 0.1..10; Gaussian-process sampler), each trial trains one
model on a Dask cluster (as for sweep), and the study is stored in DIR/study.db (SQLite)
unless --storage names another: a database URL such as postgresql://user@host/db, or the
path of an Optuna journal file (no server needed), so several machines can work on one
study.  --trials counts the completed trials of the whole study: running again with
--resume (or with the same --storage) continues it up to --trials.  The report shows the
best betas, the optimisation history and, with --grid SWEEP_CSV (or a sweep folder), how
many trainings tune needed to come within 5% of the grid search's best physicality.

Examples:
  shiftvae tune scan.dm3 --out tune1 --trials 30
  shiftvae tune scan.dm3 --out tune1 --trials 40 --resume     # 10 more trials
  shiftvae tune scan.dm3 --out tune2 --trials 20 --grid sweep1/sweep.csv
  shiftvae tune scan.dm3 --out tune3 --trials 60 --storage /shared/study.journal \\
      --scheduler tcp://10.0.0.5:8786
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from shiftvae.commands.fit import add_model_args, config_from_args, positive_int
from shiftvae.commands.sweep import add_executor_args, check_out, prepared_run
from shiftvae.errors import InputError

log = logging.getLogger(__name__)


def add_args(p: argparse.ArgumentParser) -> None:
    add_model_args(p)
    p.add_argument(
        "--trials", type=positive_int, default=30, help="completed trials wanted (default 30)"
    )
    p.add_argument(
        "--storage",
        metavar="URL",
        help="Optuna storage: database URL or journal file path (default DIR/study.db)",
    )
    p.add_argument("--study-name", default=None, help="study name within --storage")
    p.add_argument(
        "--grid", type=Path, metavar="SWEEP_CSV", help="sweep.csv of a grid search to compare with"
    )
    add_executor_args(p)


def main(args: argparse.Namespace) -> int:
    from shiftvae.runs.tune import STUDY_NAME, grid_best, open_study, tune

    config = config_from_args(args)
    grid = grid_best(args.grid) if args.grid else None
    check_out(args.out, args.resume, args.overwrite)
    study_name = args.study_name or STUDY_NAME
    if args.storage:  # fail on a storage that cannot be opened before any work
        open_study(args.storage, study_name=study_name)
    with prepared_run(args, config) as (runner, image, tmp):
        records = tune(
            image,
            args.trials,
            config,
            tmp,
            storage=args.storage,
            study_name=study_name,
            executor=runner,
            workers=args.workers,
            seed=args.seed,
            grid=grid,
            figures=args.figures,
        )
    ok = [r for r in records if r["status"] == "ok"]
    if not ok:
        errors = sorted({r.get("error") or "unknown error" for r in records})
        raise InputError(f"every trial failed ({'; '.join(errors)[:300]}); see {args.out}")
    best = max(ok, key=lambda r: r["physicality"])
    log.info(
        "best beta %.3g -> %.3g, physicality %.4f after %d trials; wrote %s/report.html",
        best["beta_start"],
        best["beta_end"],
        best["physicality"],
        len(records),
        args.out,
    )
    return 0
