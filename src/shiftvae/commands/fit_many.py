"""Fit many unrelated images separately, in parallel, with one summary table.

Each image (files, folders of images, or quoted glob patterns) gets its own fit with the same
options, run on a Dask cluster: a local one by default (--workers N processes, torch threads
split so that cores are not oversubscribed), or an existing one with --scheduler
tcp://HOST:PORT.  Writes runs/NN_name/ (the full outputs of `shiftvae fit` for each image)
and summary.csv (image, folder, status, window, step, position, decoder, physicality, time,
error).  A file that cannot be read or fitted is recorded as failed and the batch goes on;
--resume fits only what is missing (images fitted with the same options are kept, failed
ones are tried again).  For images that should share one latent space, use
`shiftvae fit A B C` instead.

Examples:
  shiftvae fit-many night/ --out night_fits
  shiftvae fit-many "samples/*.dm3" --out samples --workers 4 --rotation
  shiftvae fit-many night/ --out night_fits --scheduler tcp://10.0.0.5:8786
  shiftvae fit-many night/ --out night_fits --resume
"""

from __future__ import annotations

import argparse
import logging

from shiftvae.commands.fit import add_model_args, config_from_args
from shiftvae.commands.sweep import add_executor_args, check_out, work_dir
from shiftvae.errors import InputError

log = logging.getLogger(__name__)


def add_args(p: argparse.ArgumentParser) -> None:
    add_model_args(
        p,
        several=True,
        image_help="image files, folders of images or quoted glob patterns; each is fitted "
        "separately",
    )
    add_executor_args(p)


def main(args: argparse.Namespace) -> int:
    from shiftvae.runs.batch import batch_images, fit_many

    config = config_from_args(args)
    paths = batch_images(args.image)  # every path checked before any folder exists
    check_out(args.out, args.resume, args.overwrite)
    index = args.index
    if index is not None and index.lstrip("-").isdigit():
        index = int(index)
    with work_dir(args.out, args.resume, args.overwrite) as tmp:
        records = fit_many(
            paths,
            config,
            tmp,
            workers=args.workers,
            scheduler=args.scheduler,
            index=index,
            fill_nan=args.fill_nan,
            figures=args.figures,
        )
        failed = [r for r in records if r["status"] != "ok"]
        if len(failed) == len(records):
            raise InputError(
                f"all {len(records)} images failed (first: {failed[0]['image']}: "
                f"{failed[0]['error']}); see {args.out}/summary.csv"
            )
    log.info(
        "%d images fitted, %d failed%s; wrote %s/summary.csv",
        len(records) - len(failed),
        len(failed),
        "".join(f"\n  failed: {r['image']}: {r['error']}" for r in failed),
        args.out,
    )
    return 0
