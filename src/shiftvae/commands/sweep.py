"""Grid search over the KL weight schedule (beta_start, beta_end), scored by physicality.

Every pair trains one model on the same patches; runs execute on a Dask cluster: a local one
by default (--workers N processes, torch threads split so cores are not oversubscribed), or
an existing cluster with --scheduler tcp://HOST:PORT (for SLURM, start one with
dask-jobqueue; see the README).  Writes sweep.csv, the physicality heat map (paper Fig. 8)
with maps of selected runs, runs/<name>/ (full fit outputs of every run), best/ (the best
run) and report.html.  An interrupted sweep continues with --resume; failed runs are
recorded in sweep.csv and retried on --resume.

Examples:
  shiftvae sweep scan.dm3 --out sweep1
  shiftvae sweep scan.dm3 --out sweep2 --beta-start 0.1,1,10 --beta-end 0.1,1,10 --workers 2
  shiftvae sweep scan.dm3 --out sweep1 --resume
"""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

from shiftvae.commands.fit import add_model_args, config_from_args, load_input, positive_int
from shiftvae.errors import InputError, OutputError
from shiftvae.report.outdir import partial_path
from shiftvae.sweep import PAPER_BETAS, best_record, check_betas, run_name, sweep, write_csv

log = logging.getLogger(__name__)


def beta_list(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers such as 0.1,1,10, got {text!r}"
        ) from None
    if not values or any(not v > 0 for v in values):
        raise argparse.ArgumentTypeError(f"beta values must be positive numbers, got {text!r}")
    return values


def add_executor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=positive_int, help="local worker processes (default cores/2)")
    p.add_argument("--scheduler", help="address of an existing Dask scheduler (tcp://HOST:PORT)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")


def add_args(p: argparse.ArgumentParser) -> None:
    add_model_args(p)
    default = ",".join(f"{b:g}" for b in PAPER_BETAS)
    p.add_argument(
        "--beta-start",
        type=beta_list,
        default=list(PAPER_BETAS),
        help=f"comma-separated starting betas (default {default})",
    )
    p.add_argument(
        "--beta-end",
        type=beta_list,
        default=list(PAPER_BETAS),
        help=f"comma-separated final betas (default {default})",
    )
    add_executor_args(p)


def work_dir(out: Path, resume: bool, overwrite: bool) -> Path:
    """The folder runs go to while the command works (moved to ``out`` at the end)."""
    tmp = partial_path(out)
    if out.exists():
        if resume:
            if tmp.exists():
                raise OutputError(f"both {out} and {tmp} exist: remove one of them")
            out.rename(tmp)
        elif overwrite:
            shutil.rmtree(out)
        else:
            raise OutputError(
                f"output folder {out} already exists; use --resume to continue "
                "it or --overwrite to replace it"
            )
    if tmp.exists() and not resume:
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    return tmp


def finish(tmp: Path, out: Path, records, starts, ends) -> dict | None:
    """CSV, best run, heat map, report; then move the folder into place."""
    from shiftvae.report.sweep_report import write_sweep_report

    write_csv(tmp / "sweep.csv", records)
    best = best_record(records)
    if best is not None:
        src = tmp / "runs" / run_name(float(best["beta_start"]), float(best["beta_end"]))
        shutil.copytree(src, tmp / "best", dirs_exist_ok=True)
    write_sweep_report(tmp, records, starts, ends, tmp / "runs", best)
    tmp.rename(out)
    return best


def main(args: argparse.Namespace) -> int:
    starts = check_betas(args.beta_start, "--beta-start")
    ends = check_betas(args.beta_end, "--beta-end")
    config = config_from_args(args)
    image = load_input(args)
    tmp = work_dir(args.out, args.resume, args.overwrite)
    records = sweep(
        image, starts, ends, config, tmp, workers=args.workers, scheduler=args.scheduler
    )
    best = finish(tmp, args.out, records, starts, ends)
    failed = sum(r["status"] != "ok" for r in records)
    if best is None:
        raise InputError(f"all {len(records)} runs failed; see {args.out}/sweep.csv")
    log.info(
        "%d runs (%d failed); best beta %g -> %g, physicality %.4f; wrote %s/report.html",
        len(records),
        failed,
        best["beta_start"],
        best["beta_end"],
        float(best["physicality"]),
        args.out,
    )
    return 0
