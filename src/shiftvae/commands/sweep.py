"""Grid search over the KL weight schedule (beta_start, beta_end), scored by physicality.

Every pair trains one model on the same patches; runs execute on a Dask cluster: a local one
by default (--workers N processes, torch threads split so cores are not oversubscribed), or
an existing cluster with --scheduler tcp://HOST:PORT (on SLURM, start a dask-jobqueue
SLURMCluster and pass its scheduler address).  Writes sweep.csv (one row per run: betas,
physicality, smoothness of every latent map, final losses, error of a failed run), the
physicality heat map (paper Fig. 8) with the maps of selected runs beside it, runs/<name>/
(full fit outputs of every run), best/ (the best run) and report.html.  A failed run is
recorded and the sweep goes on.  An interrupted sweep continues with --resume (runs already
done are not trained again; failed ones are).

Examples:
  shiftvae sweep scan.dm3 --out sweep1
  shiftvae sweep scan.dm3 --out sweep2 --beta-start 0.1,1,10 --beta-end 0.1,1,10 --workers 2
  shiftvae sweep scan.dm3 --out sweep1 --resume
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shiftvae.commands.fit import add_model_args, config_from_args, load_input, positive_int
from shiftvae.errors import InputError, OutputError
from shiftvae.pipeline.fit import resolve_geometry
from shiftvae.report.outdir import partial_path
from shiftvae.runs.sweep import PAPER_BETAS
from shiftvae.types import Image

log = logging.getLogger(__name__)


def beta_list(text: str) -> list[float]:
    """Parse '0.1,0.5,1' into positive floats."""
    items = [v.strip() for v in text.split(",")]
    if not text.strip() or any(not v for v in items):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers such as 0.1,1,10, got {text!r}"
        )
    try:
        values = [float(v) for v in items]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers such as 0.1,1,10, got {text!r}"
        ) from None
    if any(not (math.isfinite(v) and v > 0) for v in values):
        raise argparse.ArgumentTypeError(
            f"beta values must be positive finite numbers, got {text!r}"
        )
    return values


def add_executor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workers", type=positive_int, help="local Dask worker processes (default cores/2)"
    )
    p.add_argument("--scheduler", help="address of an existing Dask scheduler (tcp://HOST:PORT)")
    p.add_argument(
        "--resume", action="store_true", help="continue an earlier or interrupted run in --out"
    )


def add_args(p: argparse.ArgumentParser) -> None:
    add_model_args(p)
    default = ",".join(f"{b:g}" for b in PAPER_BETAS)
    p.add_argument(
        "--beta-start",
        type=beta_list,
        default=list(PAPER_BETAS),
        metavar="LIST",
        help=f"comma-separated starting betas (default {default})",
    )
    p.add_argument(
        "--beta-end",
        type=beta_list,
        default=list(PAPER_BETAS),
        metavar="LIST",
        help=f"comma-separated final betas (default {default})",
    )
    add_executor_args(p)


def check_out(out: Path, resume: bool, overwrite: bool) -> None:
    """Refuse an existing --out unless --resume or --overwrite (before any work)."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"output path {out} exists and is not a folder")
    if out.exists() and not (resume or overwrite):
        raise OutputError(
            f"output folder {out} already exists; use --resume to continue it or "
            "--overwrite to replace it"
        )
    if resume and out.exists() and partial_path(out).exists():
        raise OutputError(f"both {out} and {partial_path(out)} exist: remove one of them")


@contextmanager
def work_dir(out: Path, resume: bool, overwrite: bool) -> Iterator[Path]:
    """The folder the command works in.

    A new run works in ``.NAME.partial`` and moves it to ``out`` when the block succeeds; an
    interrupted one leaves it for ``--resume``.  ``--resume`` of a finished run works inside
    ``out`` itself: every run is written atomically, so ``out`` stays usable throughout.
    """
    check_out(out, resume, overwrite)
    if resume and out.exists():
        yield out
        return
    tmp = partial_path(out)
    if tmp.exists() and not resume:
        shutil.rmtree(tmp)
    if resume and tmp.exists():
        log.info("resuming the interrupted run in %s", tmp)
    try:
        tmp.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {out}: {exc.strerror}") from exc
    try:
        yield tmp
    except BaseException:
        if any((tmp / "runs").glob("*/metrics.json")):
            log.warning("stopped: the runs done so far are in %s; continue with --resume", tmp)
        else:  # nothing worth keeping
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():  # --overwrite
        shutil.rmtree(out)
    tmp.rename(out)


@contextmanager
def prepared_run(args: argparse.Namespace, config) -> Iterator[tuple[object, Image, Path]]:
    """(executor or None, image, working folder) for sweep and tune, checked in that order.

    An existing cluster is checked before the image is read or a folder touched; a local
    one starts only later, when there is something to train.  Settings that cannot work on
    the image fail before any folder exists.
    """
    from shiftvae.runs.executors import open_runner

    with contextlib.ExitStack() as stack:
        runner = (
            stack.enter_context(open_runner(scheduler=args.scheduler)) if args.scheduler else None
        )
        image = load_input(args)
        resolve_geometry(image, config)
        tmp = stack.enter_context(work_dir(args.out, args.resume, args.overwrite))
        yield runner, image, tmp


def main(args: argparse.Namespace) -> int:
    from shiftvae.runs.sweep import check_betas, failure_summary, sweep

    starts = check_betas(args.beta_start, "--beta-start")
    ends = check_betas(args.beta_end, "--beta-end")
    config = config_from_args(args)
    check_out(args.out, args.resume, args.overwrite)
    with prepared_run(args, config) as (runner, image, tmp):
        records = sweep(
            image,
            starts,
            ends,
            config,
            tmp,
            executor=runner,
            workers=args.workers,
            report=True,
            progress=True,
            figures=args.figures,
        )
    ok = [r for r in records if r["status"] == "ok"]
    if not ok:
        raise InputError(
            f"all {len(records)} runs failed ({failure_summary(records)}); see {args.out}/sweep.csv"
        )
    best = max(ok, key=lambda r: float(r["physicality"]))
    log.info(
        "%d runs (%d failed); best beta %g -> %g, physicality %.4f; wrote %s/report.html",
        len(records),
        len(records) - len(ok),
        best["beta_start"],
        best["beta_end"],
        float(best["physicality"]),
        args.out,
    )
    return 0
