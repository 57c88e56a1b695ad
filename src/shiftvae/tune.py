"""Bayesian optimisation of (beta_start, beta_end) for physicality, with Optuna.

The driver asks Optuna for trials (log-uniform betas in [0.1, 10], the paper's range), runs
them on the same executor as sweeps, and tells Optuna the physicality.  The study lives in a
database (SQLite ``study.db`` in the output folder by default, or any ``storage`` URL), so an
interrupted tune continues where it stopped and several machines can share one study.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from shiftvae.errors import InputError, missing_extra
from shiftvae.executors import as_completed, dask_executor, threads_per_worker
from shiftvae.pipeline import FitConfig
from shiftvae.sweep import run_name, train_one
from shiftvae.types import Image

log = logging.getLogger(__name__)
BETA_RANGE = (0.1, 10.0)
STUDY_NAME = "shiftvae-beta"


def open_study(storage: str, seed: int = 0, sampler: str = "auto"):
    """Create or load the study in ``storage``; InputError if it cannot be opened."""
    try:
        import optuna
    except ImportError as exc:
        raise missing_extra("optuna", "sweep", "tune") from exc
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if sampler == "tpe":
        smp = optuna.samplers.TPESampler(seed=seed)
    else:
        try:  # GP-based Bayesian optimisation; TPE where its dependencies are missing
            smp = optuna.samplers.GPSampler(seed=seed, n_startup_trials=4)
        except (ImportError, AttributeError):
            smp = optuna.samplers.TPESampler(seed=seed)
    try:
        return optuna.create_study(
            storage=storage,
            study_name=STUDY_NAME,
            sampler=smp,
            direction="maximize",
            load_if_exists=True,
        )
    except Exception as exc:  # bad URL, unreachable server, unwritable file, ...
        raise InputError(f"cannot open the Optuna storage {storage!r}: {exc}") from exc


def completed(study) -> list[Any]:
    import optuna

    return [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]


def tune(
    image: Image,
    n_trials: int = 30,
    config: FitConfig | None = None,
    out_dir: str | Path = "tune",
    storage: str | None = None,
    executor: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
    parallel: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run Bayesian optimisation until the study holds ``n_trials`` completed trials.

    Returns one record per completed trial (number, betas, physicality, losses) in the
    order they finished.  ``parallel`` trials are in flight at once (default: the workers).

    Examples
    --------
    >>> records = sv.tune(img, n_trials=12, config=FitConfig(epochs=20))  # doctest: +SKIP
    """
    if n_trials < 1:
        raise InputError(f"the number of trials must be positive, got {n_trials}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    storage = storage or f"sqlite:///{(out / 'study.db').resolve()}"
    study = open_study(storage, seed)
    base = config or FitConfig()
    runs = out / "runs"
    if executor is not None:
        _drive(study, image, base, runs, executor, n_trials, parallel or 1, 1, progress)
    else:
        with dask_executor(workers, scheduler) as client:
            n_par = parallel or workers or len(client.scheduler_info()["workers"]) or 1
            threads = threads_per_worker(workers or n_par) if scheduler is None else 1
            _drive(study, image, base, runs, client, n_trials, n_par, threads, progress)
    return trial_records(study)


def _drive(study, image, base, runs, ex, n_trials, n_par, threads, progress) -> None:
    """Ask/tell loop keeping ``n_par`` trainings in flight."""
    import optuna
    from tqdm.auto import tqdm

    dist = optuna.distributions.FloatDistribution(*BETA_RANGE, log=True)
    todo = n_trials - len(completed(study))
    bar = tqdm(total=max(todo, 0), desc="tune", unit="trial", disable=None if progress else True)
    pending: dict[Any, Any] = {}
    while todo > 0 or pending:
        while todo - len(pending) > 0 and len(pending) < n_par:
            trial = study.ask({"beta_start": dist, "beta_end": dist})
            cfg = replace(
                base, beta_start=trial.params["beta_start"], beta_end=trial.params["beta_end"]
            )
            folder = runs / f"trial{trial.number:04d}_{run_name(cfg.beta_start, cfg.beta_end)}"
            pending[ex.submit(train_one, image, cfg, str(folder), threads)] = trial
        fut = next(iter(as_completed(list(pending))))
        trial = pending.pop(fut)
        rec = fut.result()
        for key in ("final_loss", "final_reconstruction", "final_kl", "name"):
            if rec.get(key) is not None:
                trial.set_user_attr(key, rec[key])
        if rec["status"] == "ok" and math.isfinite(float(rec["physicality"])):
            study.tell(trial, float(rec["physicality"]))
            todo -= 1
            bar.update(1)
        else:
            log.warning("trial %d failed: %s", trial.number, rec.get("error"))
            trial.set_user_attr("error", rec.get("error"))
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
    bar.close()


def trial_records(study) -> list[dict[str, Any]]:
    """Completed trials as plain records, in trial order."""
    out = []
    for t in sorted(completed(study), key=lambda t: t.number):
        out.append(
            {
                "trial": t.number,
                "beta_start": t.params["beta_start"],
                "beta_end": t.params["beta_end"],
                "physicality": t.value,
                **{k: v for k, v in t.user_attrs.items() if k != "name"},
                "name": t.user_attrs.get("name", ""),
            }
        )
    return out


def trainings_to_reach(records: list[dict[str, Any]], target: float, tol: float = 0.05):
    """How many trials (in trial order) it took to get within ``tol`` of ``target``."""
    for i, r in enumerate(records, start=1):
        if r["physicality"] >= (1 - tol) * target:
            return i
    return None
