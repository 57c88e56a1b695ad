"""Beta grid search scored by physicality (the paper's Fig. 8), on any executor.

Every (beta_start, beta_end) pair trains one model on the same patches (same window, step,
seed and epochs).  Each run writes its full fit outputs into ``runs/<name>/``; a run folder
that already holds its ``metrics.json`` (written last) for the same settings counts as done,
so a sweep can be restarted and only the missing or failed runs train.

physicality = largest smoothness over the conventional latent maps (see
:func:`shiftvae.smoothness`): high when the maps are smooth order-parameter fields, low when
lattice-scale beating leaked in from the shift.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import math
import os
import shutil
import time
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from shiftvae.errors import InputError
from shiftvae.pipeline.fit import FitConfig, resolve_geometry
from shiftvae.report.outdir import write_csv_atomic
from shiftvae.runs.executors import Runner, finished, lost_sentence, open_runner
from shiftvae.runs.records import RunRecord, best_record, copy_run, run_name
from shiftvae.runs.sweep_report import write_sweep_report
from shiftvae.types import Image

log = logging.getLogger(__name__)

PAPER_BETAS = (0.1, 0.5, 1.0, 5.0, 10.0)
METRICS_FILE = "metrics.json"
# Columns of sweep.csv; smoothness_z<i> / smoothness_shift<i> follow "physicality", one per map.
LEADING_FIELDS = ["name", "beta_start", "beta_end", "status", "physicality"]
TRAILING_FIELDS = ["final_loss", "final_reconstruction", "final_kl", "train_s", "error"]
# Settings that may differ between a run and a resumed sweep without changing the result.
_IGNORED_ON_RESUME = ("beta_start", "beta_end", "device")


def check_betas(values: Any, name: str) -> list[float]:
    """Validate a list of beta values (positive, finite, at least one): sorted, no repeats."""
    if isinstance(values, str | bytes) or np.isscalar(values):
        values = [values]
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise InputError(f"{name} must be numbers, got {values!r}") from None
    if not out:
        raise InputError(f"{name} needs at least one value")
    bad = [v for v in out if not (math.isfinite(v) and v > 0)]
    if bad:
        raise InputError(f"{name} values must be positive numbers, got {bad[0]:g}")
    unique: dict[str, float] = {}
    for v in out:  # values equal in the run names (6 significant digits) are one value
        unique.setdefault(run_name(v, 1.0), v)
    return sorted(unique.values())


def as_image(image: Any) -> Image:
    """An :class:`Image` from an Image, a 2D array, or the path of an image file."""
    if isinstance(image, Image):
        return image
    if isinstance(image, str | os.PathLike):
        from shiftvae.io.readers import read_image

        return read_image(image)
    from shiftvae.io.validate import check_image

    return Image(check_image(image, "the image"), None, "px", "array", {})


def comparable_config(
    config: FitConfig | dict[str, Any], ignored: tuple[str, ...] = _IGNORED_ON_RESUME
) -> dict[str, Any]:
    """The settings that make two runs comparable (all but ``ignored``: by default the betas,
    which name a sweep's run, and the device), JSON-normalised."""
    d = config.as_dict() if isinstance(config, FitConfig) else dict(config)
    d = {k: v for k, v in d.items() if k not in ignored}
    return json.loads(json.dumps(d))


def train_one(
    image: Image, config: FitConfig, folder: str, threads: int | None = 1, figures: bool = True
) -> RunRecord:
    """Train and write one run (executed on a worker); returns its record.  ``figures``:
    draw its figures/*.png.

    Errors are caught and returned as a record with ``status="failed"`` (and the traceback
    in ``<folder>/error.txt``), so one bad run never stops a sweep.
    """
    import torch

    from shiftvae.pipeline.fit import fit_image
    from shiftvae.report.fit_outputs import PLOT_LOCK, write_outputs
    from shiftvae.report.outdir import atomic_output_dir

    if threads:
        torch.set_num_threads(int(threads))
    folder_path = Path(folder)
    betas = (folder_path.name, config.beta_start, config.beta_end)
    tic = time.perf_counter()
    try:
        result = fit_image(image, config, progress=False)
        with PLOT_LOCK, atomic_output_dir(folder_path, overwrite=True) as tmp:
            write_outputs(tmp, result, tic, figures)  # one figure at a time per process
            train_s = result.timings.get("train")
            record = RunRecord.from_metrics(*betas, result.metrics, train_s)
            stored = {**record.as_dict(), "config": config.as_dict()}
            (tmp / METRICS_FILE).write_text(json.dumps(stored, indent=2, default=str))
    except Exception as exc:  # recorded, the sweep goes on
        text = traceback.format_exc()
        log.debug("run %s failed:\n%s", folder_path.name, text)
        record = RunRecord(*betas, "failed", error=f"{type(exc).__name__}: {exc}")
        try:
            folder_path.mkdir(parents=True, exist_ok=True)
            (folder_path / "error.txt").write_text(text)
        except OSError:
            pass
    return record


def read_ok_json(path: Path) -> dict[str, Any] | None:
    """The JSON record in ``path`` if it is a dict whose status is "ok", else None (missing,
    damaged, or a failure)."""
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("status") != "ok":
        return None
    return stored


def read_record(folder: Path, config: FitConfig | None = None) -> RunRecord | None:
    """The stored record of a finished run, or None (missing, damaged, other settings)."""
    stored = read_ok_json(folder / METRICS_FILE)
    if stored is None:
        return None
    if config is not None and "config" in stored:
        if comparable_config(stored["config"]) != comparable_config(config):
            log.warning("%s was trained with other settings: training it again", folder.name)
            return None
    return RunRecord.from_dict(stored)


def csv_fields(records: list[RunRecord]) -> list[str]:
    """Column names of sweep.csv for these records (one smoothness column per map)."""
    n_z = max((_count(r, "smoothness_z") for r in records), default=0)
    n_s = max((_count(r, "smoothness_shift") for r in records), default=0)
    extra = [f"smoothness_z{i}" for i in range(1, n_z + 1)]
    extra += [f"smoothness_shift{i}" for i in range(1, n_s + 1)]
    return LEADING_FIELDS + extra + TRAILING_FIELDS


def _count(record: RunRecord, prefix: str) -> int:
    return sum(1 for k in record if k.startswith(prefix) and k[len(prefix) :].isdigit())


def write_csv(path: Path, records: list[RunRecord]) -> Path:
    """Write the records (sorted by betas) to ``path`` atomically."""
    rows = sorted(records, key=lambda r: (float(r["beta_start"]), float(r["beta_end"])))
    return write_csv_atomic(path, csv_fields(records), rows)


def read_csv(path: str | Path) -> list[RunRecord]:
    """Records of a sweep.csv, numbers as floats (empty cells as None)."""
    out = []
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            rec: dict[str, Any] = {}
            for k, v in row.items():
                if k in ("name", "status", "error"):
                    rec[k] = v
                else:
                    rec[k] = float(v) if v not in ("", None) else None
            out.append(RunRecord.from_dict(rec))
    return out


def run_configs(
    image: Image,
    configs: list[FitConfig],
    runs_dir: Path,
    runner: Runner | Callable[[], AbstractContextManager[Runner]],
    progress: bool = True,
    desc: str = "runs",
    on_record=None,
    figures: bool = True,
) -> list[RunRecord]:
    """Train every config not yet done under ``runs_dir``; return all records in config order.

    ``runner``: a :class:`Runner`, or a function returning a context manager that yields
    one (entered only when something is left to train, so a finished sweep starts no
    cluster).  ``on_record(records)`` is called with the records so far after every run.
    """
    runs_dir.mkdir(parents=True, exist_ok=True)
    names = [run_name(c.beta_start, c.beta_end) for c in configs]
    records: dict[str, RunRecord] = {}
    for name, c in zip(names, configs):
        rec = read_record(runs_dir / name, c)
        if rec is not None:
            records[name] = rec
    todo = [(n, c) for n, c in zip(names, configs) if n not in records]
    if records:
        log.info("%d runs already done, %d to train", len(records), len(todo))
    if not todo:
        return [records[n] for n in names]
    with contextlib.ExitStack() as stack:
        if not isinstance(runner, Runner):
            runner = stack.enter_context(runner())
        _train(image, todo, runs_dir, runner, records, (progress, desc, on_record, figures))
    return [records[n] for n in names]


def _train(image, todo, runs_dir: Path, runner: Runner, records, how) -> None:
    """Submit the ``todo`` (name, config) runs and collect their records as they finish;
    ``how``: (progress, desc, on_record, figures)."""
    progress, desc, on_record, figures = how
    if todo:
        data = runner.put(image)
        futures = {
            runner.submit(train_one, data, c, str(runs_dir / n), runner.threads, figures): (n, c)
            for n, c in todo
        }
        bar = tqdm(total=len(futures), desc=desc, unit="run", disable=None if progress else True)

        lost = lost_sentence(records, lambda n: f"{n} runs were trained", "--resume")

        try:
            for k, ((name, c), rec, exc) in enumerate(finished(runner, futures, lost), start=1):
                if exc is not None:  # the worker died, or the task could not run
                    error = f"{type(exc).__name__}: {exc}"
                    rec = RunRecord(name, c.beta_start, c.beta_end, "failed", error=error)
                if rec["status"] != "ok":
                    log.warning("run %s failed: %s", name, rec.get("error"))
                records[name] = rec
                bar.update(1)
                if bar.disable and rec["status"] == "ok":  # no bar (not a terminal): log it
                    log.info(
                        "%s: physicality %.4f (%d/%d)",
                        name,
                        rec["physicality"],
                        k,
                        len(futures),
                    )
                if on_record is not None:
                    on_record(list(records.values()))
        finally:
            bar.close()
            for fut in futures:  # interrupted: do not leave trainings running
                if not fut.done():
                    fut.cancel()


def sweep(
    image: Image | np.ndarray | str | os.PathLike,
    beta_starts=PAPER_BETAS,
    beta_ends=PAPER_BETAS,
    config: FitConfig | None = None,
    out_dir: str | Path = "sweep",
    executor: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
    processes: bool | None = None,
    report: bool = True,
    progress: bool = True,
    figures: bool = True,
) -> list[RunRecord]:
    """Train one model per (beta_start, beta_end) pair; write runs, sweep.csv and a report.

    Parameters
    ----------
    image : Image, 2D array or path
    beta_starts, beta_ends : sequences of positive float
        The grid (default: the paper's 0.1, 0.5, 1, 5, 10 for both).
    config : FitConfig
        Everything but the betas (same patches, seed and epochs for every run).
    out_dir : path
        Receives ``runs/<name>/`` (full fit outputs per run), ``sweep.csv`` (rewritten after
        every finished run) and, with ``report``, ``best/`` (a copy of the best run),
        ``figures/physicality_heatmap.png``, ``grid.json`` and ``report.html``.  Runs already
        in ``out_dir`` with the same settings are not trained again (resume); failed runs are.
    executor : Executor-like, optional
        Any object with ``submit`` (``concurrent.futures`` executor, Dask ``Client``).
        Default: a Dask LocalCluster of ``workers`` workers (``processes=False``: threads of
        this process), or the existing cluster at ``scheduler`` (e.g. "tcp://host:8786").
    report : bool
        Write the heat map, best/ and report.html (needs at least one successful run).
    figures : bool
        Draw every run's figures/*.png (seconds per run; the heat map is drawn regardless).

    Returns
    -------
    list of dict
        The table of runs: one record per (beta_start, beta_end), in grid order (beta_start
        outer), with the columns of sweep.csv: name, beta_start, beta_end, status,
        physicality, smoothness_z1.., smoothness_shift1.., final_loss, final_reconstruction,
        final_kl, train_s, error.

    Raises
    ------
    InputError
        Bad betas or settings, or an unreachable scheduler.  Failed runs do not raise: they
        are rows with ``status="failed"`` and their ``error``.

    Examples
    --------
    >>> records = sv.sweep(img, [0.1, 1], [0.1, 1], FitConfig(epochs=20))  # doctest: +SKIP
    >>> max(records, key=lambda r: r["physicality"] or 0)["name"]  # doctest: +SKIP
    'bs0.1_be1'
    """
    starts = check_betas(beta_starts, "beta_start")
    ends = check_betas(beta_ends, "beta_end")
    image = as_image(image)
    base = config or FitConfig()
    resolve_geometry(image, base)  # bad window/step/binning: fail before any training
    configs = [replace(base, beta_start=s, beta_end=e) for s in starts for e in ends]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records = run_configs(
        image,
        configs,
        out / "runs",
        lambda: open_runner(executor, workers, scheduler, processes),
        progress,
        desc="sweep",
        on_record=lambda recs: write_csv(out / "sweep.csv", recs),
        figures=figures,
    )
    write_csv(out / "sweep.csv", records)
    if report:
        write_sweep_outputs(out, records, starts, ends)
    return records


def write_sweep_outputs(out: Path, records: list[RunRecord], starts, ends) -> RunRecord | None:
    """best/, heat map with maps beside it, grid.json and report.html.

    Returns the best record, or None when every run failed (the report then lists the errors).
    """
    best = best_record(records)
    if best is not None:
        copy_run(out / "runs" / best["name"], out / "best")
    elif (out / "best").exists():
        shutil.rmtree(out / "best")
    write_sweep_report(out, records, starts, ends, out / "runs", best)
    if best is None:
        log.error("all %d runs failed: %s", len(records), failure_summary(records))
    return best


def failure_summary(records: list[RunRecord]) -> str:
    """The distinct errors of failed runs, in one line."""
    errors = sorted({r.get("error") or "unknown error" for r in records if r["status"] != "ok"})
    text = "; ".join(errors)
    return text if len(text) <= 300 else text[:297] + "..."
