"""Beta grid search scored by physicality (the paper's Fig. 8), on any executor.

Every (beta_start, beta_end) pair trains one model on the same image.  Each run writes its
full fit outputs into ``runs/<name>/``; a run folder that already holds its ``metrics.json``
counts as done, so a sweep can be restarted and only the missing runs train.

physicality = largest smoothness over the conventional latent maps (see
:func:`shiftvae.smoothness`): high when the maps are smooth order-parameter fields, low when
lattice-scale beating leaked in from the shift.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from shiftvae.errors import InputError
from shiftvae.executors import as_completed, dask_executor, threads_per_worker
from shiftvae.pipeline import FitConfig
from shiftvae.types import Image

log = logging.getLogger(__name__)

PAPER_BETAS = (0.1, 0.5, 1.0, 5.0, 10.0)
CSV_FIELDS = [
    "name",
    "beta_start",
    "beta_end",
    "status",
    "physicality",
    "smoothness_z",
    "smoothness_shift",
    "final_loss",
    "final_reconstruction",
    "final_kl",
    "train_s",
    "error",
]


def run_name(beta_start: float, beta_end: float) -> str:
    return f"bs{beta_start:g}_be{beta_end:g}"


def check_betas(values: Any, name: str) -> list[float]:
    """Validate a list of beta values (positive, finite, at least one)."""
    out = [float(v) for v in values]
    if not out:
        raise InputError(f"{name} needs at least one value")
    bad = [v for v in out if not (math.isfinite(v) and v > 0)]
    if bad:
        raise InputError(f"{name} values must be positive numbers, got {bad[0]:g}")
    return out


def train_one(image: Image, config: FitConfig, folder: str, threads: int = 1) -> dict[str, Any]:
    """Train and write one run (executed on a worker); returns its CSV record.

    Errors are caught and returned as a record with ``status="failed"``, so one bad run
    never stops a sweep.
    """
    import torch

    from shiftvae.pipeline import fit_image
    from shiftvae.report.fit_outputs import write_outputs
    from shiftvae.report.outdir import atomic_output_dir

    torch.set_num_threads(threads)
    folder_path = Path(folder)
    record: dict[str, Any] = {
        "name": folder_path.name,
        "beta_start": config.beta_start,
        "beta_end": config.beta_end,
    }
    tic = time.perf_counter()
    try:
        result = fit_image(image, config, progress=False)
        with atomic_output_dir(folder_path, overwrite=True) as tmp:
            write_outputs(tmp, result, tic)
            m = result.metrics
            record.update(
                status="ok",
                physicality=m["physicality"],
                smoothness_z=json.dumps(m["smoothness_z"]),
                smoothness_shift=json.dumps(m["smoothness_shift"]),
                final_loss=m["final_loss"],
                final_reconstruction=m["final_reconstruction"],
                final_kl=m["final_kl"],
                train_s=result.timings.get("train"),
            )
            (tmp / "metrics.json").write_text(json.dumps(record, indent=2))
    except Exception as exc:  # recorded, the sweep goes on
        log.debug("run %s failed:\n%s", folder_path.name, traceback.format_exc())
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    return record


def read_done(runs_dir: Path) -> dict[str, dict[str, Any]]:
    """Records of runs that already finished (their folder holds metrics.json)."""
    done = {}
    for path in sorted(runs_dir.glob("*/metrics.json")):
        try:
            done[path.parent.name] = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # a damaged record is simply run again
    return done


def write_csv(path: Path, records: list[dict[str, Any]]) -> Path:
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in sorted(records, key=lambda r: (r["beta_start"], r["beta_end"])):
            w.writerow(r)
    tmp.replace(path)
    return path


def run_configs(
    image: Image,
    configs: list[FitConfig],
    runs_dir: Path,
    executor: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    desc: str = "runs",
) -> list[dict[str, Any]]:
    """Train every config not yet done under ``runs_dir`` and return all records."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    done = read_done(runs_dir)
    todo = [c for c in configs if run_name(c.beta_start, c.beta_end) not in done]
    records = [
        done[run_name(c.beta_start, c.beta_end)]
        for c in configs
        if run_name(c.beta_start, c.beta_end) in done
    ]
    if done:
        log.info("%d runs already done, %d to train", len(records), len(todo))
    if not todo:
        return records
    threads = threads_per_worker(workers or 1) if scheduler is None else 1

    def submit_all(ex) -> list[dict[str, Any]]:
        futures = [
            ex.submit(
                train_one, image, c, str(runs_dir / run_name(c.beta_start, c.beta_end)), threads
            )
            for c in todo
        ]
        out = []
        for fut in tqdm(
            as_completed(futures),
            total=len(futures),
            desc=desc,
            unit="run",
            disable=None if progress else True,
        ):
            rec = fut.result()
            if rec["status"] != "ok":
                log.warning("run %s failed: %s", rec["name"], rec.get("error"))
            out.append(rec)
        return out

    if executor is not None:
        return records + submit_all(executor)
    with dask_executor(workers, scheduler) as client:
        return records + submit_all(client)


def sweep(
    image: Image,
    beta_starts=PAPER_BETAS,
    beta_ends=PAPER_BETAS,
    config: FitConfig | None = None,
    out_dir: str | Path = "sweep",
    executor: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train one model per (beta_start, beta_end) pair; write runs and ``sweep.csv``.

    Parameters
    ----------
    image : Image
    beta_starts, beta_ends : sequences of float
    config : FitConfig
        Everything but the betas (same patches, seed and epochs for every run).
    out_dir : path
        Receives ``runs/<name>/`` (full fit outputs per run) and ``sweep.csv``; runs already
        there are not trained again.
    executor : Executor-like, optional
        Any object with ``submit``; default a Dask LocalCluster of ``workers`` processes, or
        the cluster at ``scheduler`` (e.g. "tcp://host:8786").

    Returns
    -------
    list of dict
        One record per run (the rows of sweep.csv).

    Examples
    --------
    >>> records = sv.sweep(img, [0.1, 1], [0.1, 1], FitConfig(epochs=20))  # doctest: +SKIP
    """
    starts = check_betas(beta_starts, "beta_start")
    ends = check_betas(beta_ends, "beta_end")
    base = config or FitConfig()
    configs = [replace(base, beta_start=s, beta_end=e) for s in starts for e in ends]
    out = Path(out_dir)
    records = run_configs(
        image, configs, out / "runs", executor, workers, scheduler, progress, desc="sweep"
    )
    write_csv(out / "sweep.csv", records)
    return records


def best_record(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The successful run with the highest physicality (None if all failed)."""
    ok = [r for r in records if r.get("status") == "ok"]
    return max(ok, key=lambda r: float(r["physicality"])) if ok else None
