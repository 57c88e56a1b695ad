"""Bayesian optimisation of (beta_start, beta_end) for physicality, with Optuna.

The driver asks Optuna for trials (log-uniform betas in [0.1, 10], the paper's range), runs
them on the same executors as sweeps, and tells Optuna the physicality (reconstruction and
KL losses are kept as trial attributes).  The study lives in a storage: SQLite ``study.db``
in the output folder by default, any Optuna database URL (``postgresql://...``), or a journal
file (a path without ``://``, which needs no server and suits several drivers on shared
storage).  Running again with the same storage continues the study: ``n_trials`` counts the
completed trials of the whole study, not of one call.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import math
import os
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from shiftvae.errors import InputError, missing_extra
from shiftvae.pipeline.fit import FitConfig, resolve_geometry
from shiftvae.runs.executors import Runner, open_runner
from shiftvae.runs.records import (  # noqa: F401  re-exported: tune's names as before
    BETA_RANGE,
    INTERRUPTED,
    RunRecord,
    best_trial,
    trainings_to_reach,
    was_trained,
)
from shiftvae.runs.sweep import as_image, comparable_config, read_record, run_name, train_one
from shiftvae.runs.tune_report import write_tune_outputs
from shiftvae.types import Image

log = logging.getLogger(__name__)
STUDY_NAME = "shiftvae-beta"
N_STARTUP_TRIALS = 4  # random trials before the Gaussian-process model takes over
_SETTINGS_ATTR = "shiftvae_settings"


# record fields that are the trial's own params, state or value, not user attributes
_NOT_ATTRS = ("name", "beta_start", "beta_end", "status", "physicality")


def _optuna():
    try:
        import optuna
    except ImportError as exc:
        raise missing_extra("optuna", "sweep", "tune") from exc
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna_log = logging.getLogger("optuna._gp.batched_lbfgsb")  # logs when first imported
    if not any(isinstance(f, _NoGreenletNotice) for f in optuna_log.filters):
        optuna_log.addFilter(_NoGreenletNotice())
    return optuna


class _NoGreenletNotice(logging.Filter):
    """Drop GPSampler's notice that it optimises sequentially without 'greenlet'."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "'greenlet' package is unavailable" not in record.getMessage()


def default_storage(out_dir: str | Path) -> str:
    return f"sqlite:///{(Path(out_dir) / 'study.db').resolve()}"


def make_storage(storage: str):
    """An Optuna storage for ``storage``: a database URL, or a journal file path."""
    optuna = _optuna()
    if "://" in storage:
        return storage  # RDB URL: opened (and checked) by create_study
    path = Path(storage).expanduser()
    if path.is_dir():
        raise InputError(f"the Optuna storage {storage!r} is a folder, not a journal file")
    if not path.parent.is_dir():
        raise InputError(
            f"cannot open the Optuna storage {storage!r}: folder {path.parent} does not exist"
        )
    journal = optuna.storages.journal
    backend = getattr(journal, "JournalFileBackend", None)
    if backend is None:  # optuna < 4
        backend = optuna.storages.JournalFileStorage
    return optuna.storages.JournalStorage(backend(str(path)))


def make_sampler(seed: int):
    """GPSampler (Gaussian-process Bayesian optimisation), TPE where it is unavailable."""
    optuna = _optuna()
    with warnings.catch_warnings():  # GPSampler was "experimental" in optuna 3.6-4.x
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            return optuna.samplers.GPSampler(seed=seed, n_startup_trials=N_STARTUP_TRIALS)
        except (ImportError, AttributeError):
            return optuna.samplers.TPESampler(
                seed=seed, n_startup_trials=N_STARTUP_TRIALS, constant_liar=True
            )


def sampler_seed(seed: int, n_before: int) -> int:
    """The sampler's seed for study ``seed`` resumed after ``n_before`` trials.

    ``seed + n_before`` would make study 1 the continuation of study 0 after its first
    trial; a seed sequence keeps the streams of different studies unrelated.
    """
    return int(np.random.SeedSequence([int(seed), int(n_before)]).generate_state(1)[0])


def open_study(
    storage: str, seed: int = 0, study_name: str = STUDY_NAME, settings: dict | None = None
):
    """Create or load the study in ``storage``; InputError if it cannot be opened.

    ``settings`` (the fit settings and image shape) are stored with a new study; a stored
    study with other settings is refused, since its physicality values would not compare.
    The sampler's seed is drawn from (``seed``, trials already in the study), so a resumed
    study does not repeat its first random trials and studies of different seeds do not
    share theirs.
    """
    optuna = _optuna()
    try:
        study = optuna.create_study(
            storage=make_storage(storage),
            study_name=study_name,
            direction="maximize",
            load_if_exists=True,
        )
        n_before = len(study.trials)
    except InputError:
        raise
    except Exception as exc:  # bad URL, unreachable server, unwritable file, missing driver
        detail = " ".join(str(exc).split())[:200]
        raise InputError(
            f"cannot open the Optuna storage {redact(storage)!r} ({type(exc).__name__}: {detail})"
        ) from None
    if settings is not None:
        settings = json.loads(json.dumps(settings))
        stored = study.user_attrs.get(_SETTINGS_ATTR)
        if stored is None:
            study.set_user_attr(_SETTINGS_ATTR, settings)
        elif stored != settings:
            diff = _diff(stored, settings)
            raise InputError(
                f"the study {study_name!r} in {redact(storage)} was run with other settings "
                f"({diff}); use another output folder, storage or study name"
            )
    if study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise InputError(f"the study {study_name!r} in {redact(storage)} is not a shiftvae study")
    study.sampler = make_sampler(sampler_seed(seed, n_before))
    return study


def _diff(old: dict, new: dict) -> str:
    flat_old, flat_new = _flatten(old), _flatten(new)
    keys = sorted(k for k in set(flat_old) | set(flat_new) if flat_old.get(k) != flat_new.get(k))
    parts = [f"{k}: {flat_old.get(k)!r} there, {flat_new.get(k)!r} now" for k in keys[:3]]
    return "; ".join(parts) or "different settings"


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def fail_stale_trials(study) -> int:
    """Close the trials left RUNNING by a driver that died (one-driver storages only).

    A trial whose training had finished and written its run before the driver died (it
    died before it could tell the study) is told COMPLETE with the recorded physicality, so
    it is not trained again; the others are marked FAIL.  Returns the number closed.
    """
    optuna = _optuna()
    stale = [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    recovered = 0
    for t in stale:
        folder = t.user_attrs.get("folder")
        rec = read_record(Path(folder)) if folder else None
        value = None if rec is None else rec.get("physicality")
        if value is not None and math.isfinite(float(value)):
            trial = optuna.trial.Trial(study, t._trial_id)  # to attach the run's metrics
            for key, v in rec.items():
                if key not in _NOT_ATTRS and v is not None and v != "":
                    trial.set_user_attr(key, v)
            study.tell(t.number, float(value))
            recovered += 1
        else:
            study.tell(t.number, state=optuna.trial.TrialState.FAIL)
    if stale:
        log.info(
            "closed %d trials of an interrupted run: %d had finished training (kept), "
            "%d marked as failed",
            len(stale),
            recovered,
            len(stale) - recovered,
        )
    return len(stale)


def completed(study) -> list[Any]:
    optuna = _optuna()
    return [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]


def tune(
    image: Image | Any,
    n_trials: int = 30,
    config: FitConfig | None = None,
    out_dir: str | Path = "tune",
    storage: str | None = None,
    study_name: str = STUDY_NAME,
    executor: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
    processes: bool | None = None,
    parallel: int | None = None,
    seed: int = 0,
    grid: float | str | Path | None = None,
    max_failures: int | None = None,
    report: bool = True,
    progress: bool = True,
    figures: bool = True,
) -> list[RunRecord]:
    """Bayesian optimisation of (beta_start, beta_end) until the study has ``n_trials`` done.

    Parameters
    ----------
    image : Image, 2D array or path
    n_trials : int
        Completed trials wanted in the study (trials already stored count).
    config : FitConfig
        Everything but the betas; must match the stored study's settings.
    out_dir : path
        Receives ``runs/trialNNNN_<betas>/`` (full fit outputs per trial), ``study.db`` (the
        default storage) and, with ``report``, ``tune.csv``, ``tune.json``, ``best/``,
        ``figures/*.png`` and ``report.html``.
    storage : str, optional
        Optuna storage URL (``sqlite:///path.db``, ``postgresql://...``) or the path of a
        journal file; default ``sqlite:///<out_dir>/study.db``.
    executor, workers, scheduler, processes
        Where trials run, as for :func:`shiftvae.runs.sweep`.
    parallel : int, optional
        Trials in flight at once (default: the executor's slots).
    grid : float or path, optional
        Best physicality of a grid search (or its sweep.csv, or the sweep folder): the report
        then says how many trainings it took to come within 5% of it.
    max_failures : int, optional
        Stop after this many failed trials in this call (default ``n_trials``).
    figures : bool
        Draw every trial's figures/*.png (seconds per trial; the study's own are drawn).

    Returns
    -------
    list of dict
        The table of finished trials of the study, in trial order: trial, beta_start,
        beta_end, status ("ok" / "failed"), physicality, smoothness_z1.., final_loss,
        final_reconstruction, final_kl, train_s, name (run folder), error.

    Raises
    ------
    InputError
        Bad settings, storage that cannot be opened or holds another study, unreachable
        scheduler, unreadable ``grid``.

    Examples
    --------
    >>> records = sv.tune(img, n_trials=12, config=FitConfig(epochs=20))  # doctest: +SKIP
    """
    if isinstance(n_trials, bool) or int(n_trials) != n_trials or n_trials < 1:
        raise InputError(f"the number of trials must be a positive integer, got {n_trials!r}")
    n_trials = int(n_trials)
    if parallel is not None and (int(parallel) != parallel or parallel < 1):
        raise InputError(f"parallel must be a positive integer, got {parallel!r}")
    grid_value = grid_best(grid) if grid is not None and not _is_number(grid) else grid
    image = as_image(image)
    base = config or FitConfig()
    resolve_geometry(image, base)  # bad window/step/binning: fail before any training
    out = Path(out_dir)
    own_storage = storage is None
    settings = {"config": comparable_config(base), "image_shape": list(image.data.shape)}
    if own_storage:
        out.mkdir(parents=True, exist_ok=True)
        storage = default_storage(out)
    study = open_study(storage, seed, study_name, settings)
    out.mkdir(parents=True, exist_ok=True)
    if own_storage:
        fail_stale_trials(study)
    if len(completed(study)) < n_trials:
        with open_runner(executor, workers, scheduler, processes) as runner:
            _drive(
                study,
                image,
                base,
                out / "runs",
                runner,
                n_trials,
                int(parallel or runner.slots),
                max_failures or n_trials,
                (progress, figures),
            )
    else:
        log.info("the study already has %d completed trials", len(completed(study)))
    records = trial_records(study)
    if report:
        label = "study.db (SQLite) in this folder" if own_storage else redact(storage)
        write_tune_outputs(out, records, grid_value, label)
    return records


def redact(url: str) -> str:
    """``url`` without its password (for reports and messages)."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _drive(study, image, base, runs: Path, runner: Runner, n_trials, n_par, max_failures, how):
    """Ask/tell loop keeping ``n_par`` trainings in flight; ``how``: (progress, figures)."""
    from tqdm.auto import tqdm

    progress, figures = how
    optuna = _optuna()
    dist = optuna.distributions.FloatDistribution(*BETA_RANGE, log=True)
    todo = n_trials - len(completed(study))
    bar = tqdm(total=todo, desc="tune", unit="trial", disable=None if progress else True)
    data = runner.put(image)
    pending: dict[Any, Any] = {}
    failures = 0
    try:
        while True:
            while len(pending) < min(n_par, todo) and failures + len(pending) < max_failures:
                trial = study.ask({"beta_start": dist, "beta_end": dist})
                cfg = replace(
                    base, beta_start=trial.params["beta_start"], beta_end=trial.params["beta_end"]
                )
                name = f"trial{trial.number:04d}_{run_name(cfg.beta_start, cfg.beta_end)}"
                trial.set_user_attr("name", name)
                trial.set_user_attr("folder", str((runs / name).resolve()))
                fut = runner.submit(train_one, data, cfg, str(runs / name), runner.threads, figures)
                pending[fut] = trial
            if not pending:
                break
            done, _ = runner.wait_first(list(pending))
            for fut in done:
                trial = pending.pop(fut)
                try:
                    rec = fut.result()
                except Exception as exc:  # the worker died, or the task could not run
                    betas = (trial.params["beta_start"], trial.params["beta_end"])
                    error = f"{type(exc).__name__}: {exc}"
                    rec = RunRecord("", *betas, "failed", error=error)
                for key, value in rec.items():
                    if key not in _NOT_ATTRS:
                        if value is not None and value != "":
                            trial.set_user_attr(key, value)
                value = rec.get("physicality")
                if rec["status"] == "ok" and value is not None and math.isfinite(float(value)):
                    study.tell(trial, float(value))
                    todo -= 1
                    bar.update(1)
                    if bar.disable:  # no bar (not a terminal): log it
                        log.info(
                            "trial %d: beta %.3g -> %.3g, physicality %.4f",
                            trial.number,
                            trial.params["beta_start"],
                            trial.params["beta_end"],
                            float(value),
                        )
                else:
                    failures += 1
                    log.warning("trial %d failed: %s", trial.number, rec.get("error"))
                    if not rec.get("error"):
                        trial.set_user_attr("error", "physicality is not finite")
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    finally:
        bar.close()
        for fut, trial in pending.items():  # interrupted: stop and close the open trials
            fut.cancel()
            with contextlib.suppress(Exception):
                trial.set_user_attr("error", INTERRUPTED)
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
    if todo > 0:
        log.warning(
            "stopped after %d failed trials with %d completed of %d wanted",
            failures,
            n_trials - todo,
            n_trials,
        )


def trial_records(study) -> list[RunRecord]:
    """Finished (completed or failed) trials as records, in trial order."""
    optuna = _optuna()
    states = {optuna.trial.TrialState.COMPLETE: "ok", optuna.trial.TrialState.FAIL: "failed"}
    out = []
    for t in sorted(study.trials, key=lambda t: t.number):
        # a driver killed between the two suggestions leaves a trial with beta_start only
        if t.state not in states or not {"beta_start", "beta_end"} <= t.params.keys():
            continue
        attrs = dict(t.user_attrs)
        ok = states[t.state] == "ok"
        rec = RunRecord.from_dict(
            {
                **attrs,
                "trial": t.number,
                "beta_start": t.params["beta_start"],
                "beta_end": t.params["beta_end"],
                "status": states[t.state],
                "physicality": t.value if ok else None,
                "name": attrs.get("name", ""),
                "folder": attrs.get("folder", ""),
                # a failed trial without an error message never finished its training
                "error": "" if ok else attrs.get("error") or INTERRUPTED,
            }
        )
        out.append(rec)
    return out


def grid_best(path: str | Path | os.PathLike) -> float:
    """Best physicality of a grid search, from its sweep.csv (or the folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / "sweep.csv"
    try:
        with open(path, newline="") as fh:
            values = [
                float(r["physicality"])
                for r in csv.DictReader(fh)
                if r.get("status") == "ok" and r.get("physicality") not in ("", None)
            ]
    except (OSError, KeyError, ValueError, csv.Error) as exc:
        raise InputError(f"cannot read the grid search results {path}: {exc}") from None
    values = [v for v in values if math.isfinite(v)]
    if not values:
        raise InputError(f"{path} has no successful runs to compare with")
    return max(values)
