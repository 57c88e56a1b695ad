"""Batch mode: fit many unrelated images separately, on a Dask cluster or any executor.

Where the images of :mod:`shiftvae.pipeline.series` share one model, here each image gets
its own fit with the same options: a facility's night of acquisitions, a folder of samples.
Each fit runs on a worker (reading its file there, so a corrupt file fails on the worker and
is recorded, never stopping the batch) and writes the full outputs of ``shiftvae fit``
atomically into ``runs/NN_name/``.  ``summary.csv`` has one row per image: image, folder,
status, geometry, physicality, time and the error of a failed one.  A batch run again
(``resume``) trains only what is missing: images whose folder holds a finished record with
the same options and the same file are not trained again; failed ones are.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shiftvae.errors import InputError
from shiftvae.io.readers import SUPPORTED_SUFFIXES
from shiftvae.pipeline.fit import FitConfig
from shiftvae.pipeline.series import expand_paths
from shiftvae.report.outdir import write_csv_atomic
from shiftvae.runs.executors import Runner, finished, lost_sentence, open_runner
from shiftvae.runs.records import BatchRecord
from shiftvae.runs.sweep import comparable_config, read_ok_json

log = logging.getLogger(__name__)

RECORD_FILE = "metrics.json"
SUMMARY_FIELDS = [
    "image",
    "folder",
    "status",
    "window",
    "step",
    "position",
    "decoder",
    "physicality",
    "train_s",
    "seconds",
    "error",
]

__all__ = ["batch_images", "fit_many"]


def batch_images(sources: Sequence[str | Path]) -> list[Path]:
    """Image files from files, folders (their image files, sorted, not recursive) and glob
    patterns; an InputError when nothing is left or a path does not exist."""
    out: list[Path] = []
    for path in expand_paths(sources):
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
            )
            if not found:
                raise InputError(f"folder {path} holds no image file")
            out += found
        elif path.is_file():
            out.append(path)
        else:
            raise InputError(f"image file {path} does not exist")
    if not out:
        raise InputError("no image to fit: give files, folders or glob patterns")
    return out


def run_names(paths: Sequence[Path]) -> list[str]:
    """Folder names ``NN_stem`` in the images' order."""
    width = max(2, len(str(len(paths))))
    return [f"{i:0{width}d}_{p.stem}" for i, p in enumerate(paths, start=1)]


def fit_one(
    path: str,
    config: FitConfig,
    folder: str,
    threads: int | None = 1,
    index=None,
    fill_nan: bool = False,
    figures: bool = True,
) -> BatchRecord:
    """Read, fit and write one image (executed on a worker); returns its record.

    Errors (an unreadable file, a fit that fails) are returned as a record with
    ``status="failed"`` and the traceback in ``<folder>/error.txt``."""
    import torch

    from shiftvae.io.readers import read_image
    from shiftvae.io.validate import fill_nan as fill_nan_pixels
    from shiftvae.pipeline.fit import fit_image
    from shiftvae.report.fit_outputs import PLOT_LOCK, write_outputs
    from shiftvae.report.outdir import atomic_output_dir

    if threads:
        torch.set_num_threads(int(threads))
    folder_path = Path(folder)
    where = (str(path), folder_path.name)
    tic = time.perf_counter()
    try:
        image = read_image(path, index=index, allow_nonfinite=fill_nan)
        if fill_nan:
            image.data = fill_nan_pixels(image.data)
        result = fit_image(image, config, progress=False)
        geo = result.geometry
        with PLOT_LOCK, atomic_output_dir(folder_path, overwrite=True) as tmp:
            write_outputs(tmp, result, tic, figures)
            record = BatchRecord(
                *where,
                status="ok",
                window=geo.window,
                step=geo.step,
                position=geo.position,
                decoder=geo.decoder,
                physicality=round(float(result.metrics["physicality"]), 4),
                train_s=round(result.timings.get("train", 0.0), 2),
                seconds=round(time.perf_counter() - tic, 2),
                error="",
            )
            stored = {**record.as_dict(), "config": config.as_dict()}
            (tmp / RECORD_FILE).write_text(json.dumps(stored, indent=2, default=str))
    except Exception as exc:  # recorded, the batch goes on
        log.debug("%s failed:\n%s", path, traceback.format_exc())
        record = BatchRecord(
            *where,
            status="failed",
            seconds=round(time.perf_counter() - tic, 2),
            error=f"{type(exc).__name__}: {exc}",
        )
        try:
            folder_path.mkdir(parents=True, exist_ok=True)
            (folder_path / "error.txt").write_text(traceback.format_exc())
        except OSError:
            pass
    return record


def read_done(folder: Path, path: Path, config: FitConfig) -> BatchRecord | None:
    """The record of a finished fit of ``path`` with ``config`` in ``folder``, or None."""
    stored = read_ok_json(folder / RECORD_FILE)
    if stored is None or stored.get("image") != str(path):
        return None
    same = comparable_config(stored.get("config", {}), ("device",))
    if same != comparable_config(config, ("device",)):
        log.warning("%s was fitted with other settings: fitting it again", folder.name)
        return None
    return BatchRecord.from_dict(stored)


def write_summary(path: Path, records: list[BatchRecord]) -> Path:
    """summary.csv (one row per image, in the images' order), written atomically."""
    return write_csv_atomic(path, SUMMARY_FIELDS, records)


def fit_many(
    images: Sequence[str | Path],
    config: FitConfig | None = None,
    out_dir: str | Path = "batch",
    executor: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
    processes: bool | None = None,
    index=None,
    fill_nan: bool = False,
    progress: bool = True,
    figures: bool = True,
) -> list[BatchRecord]:
    """Fit each image separately; write ``runs/NN_name/`` and ``summary.csv`` in ``out_dir``.

    Parameters
    ----------
    images : files, folders or glob patterns
    config : FitConfig
        The options of every fit (checked before anything runs).
    out_dir : path
        Where the runs and the summary go; images already fitted there with these options
        are not fitted again.
    executor, workers, scheduler, processes
        Where the fits run: an executor (``submit``), or a Dask cluster, local with
        ``workers`` processes or existing at ``scheduler``
        (:func:`~shiftvae.runs.executors.open_runner`).
    index
        Which image of multi-image files.
    fill_nan : bool
        Replace NaN/Inf pixels by the median instead of failing the image.
    figures : bool
        Draw each image's figures/*.png (seconds per image; every number is in results.h5).

    Returns
    -------
    list of dict
        One record per image, in order: ``status`` "ok" or "failed" and the summary's fields.
    """
    from shiftvae.pipeline.options import check_fit_options

    config = config or FitConfig()
    check_fit_options(config)
    paths = batch_images(images)
    out = Path(out_dir)
    runs = out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    names = run_names(paths)
    records: dict[str, BatchRecord] = {}
    for name, path in zip(names, paths):
        done = read_done(runs / name, path, config)
        if done is not None:
            records[name] = done
    todo = [(n, p) for n, p in zip(names, paths) if n not in records]
    if records:
        log.info("%d images already fitted, %d to fit", len(records), len(todo))
    try:
        if todo:
            with open_runner(executor, workers, scheduler, processes) as runner:
                reading = (index, fill_nan, figures)
                _run(runner, todo, runs, config, reading, records, progress, len(paths))
    finally:  # also when the scheduler is lost or the user stops: what is done is listed
        for name, path in zip(names, paths):
            records.setdefault(name, BatchRecord(str(path), name, error="not run"))
        ordered = [records[n] for n in names]
        write_summary(out / "summary.csv", ordered)
    return ordered


def _run(runner: Runner, todo, runs: Path, config, reading, records, progress, total) -> None:
    """Submit the fits and collect their records as they finish, one line per image."""
    from tqdm.auto import tqdm

    futures = {
        runner.submit(fit_one, str(p), config, str(runs / n), runner.threads, *reading): (n, p)
        for n, p in todo
    }
    bar = tqdm(total=len(futures), desc="images", unit="image", disable=None if progress else True)

    lost = lost_sentence(
        records, lambda n: f"{n} of {total} images were fitted", "--resume (or fit_many again)"
    )

    try:
        for (name, path), rec, exc in finished(runner, futures, lost):
            if exc is not None:  # the worker died, or the task could not run
                rec = BatchRecord(str(path), name, error=f"{type(exc).__name__}: {exc}")
            records[name] = rec
            bar.update(1)
            if rec["status"] == "ok":
                line = f"{name}: physicality {rec['physicality']:.4f} in {rec['seconds']:.0f} s"
                bar.write(line) if not bar.disable else log.info(line)
            else:
                log.warning("%s failed: %s", name, rec.get("error"))
    finally:
        bar.close()
        for fut in futures:  # interrupted: do not leave fits running
            if not fut.done():
                fut.cancel()
