"""Bayesian optimisation of the betas: study storage and resume, report, bad input."""

from __future__ import annotations

import csv
import importlib
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import optuna
import pytest

import shiftvae as sv
import shiftvae.pipeline.fit
import shiftvae.runs.executors
from shiftvae.cli import main as shiftvae_main
from shiftvae.pipeline.fit import FitConfig

tune_module = importlib.import_module("shiftvae.runs.tune")  # sv.tune is the function

CONFIG = FitConfig(window=16, step=8, epochs=2, phases=None)
FAST = ["--window", "16", "--step", "8", "--epochs", "2", "--phases", "none", "--no-figures"]


def tune(*args, **kwargs):
    """sv.tune without each run's own figures (drawn in one test only: seconds per run)."""
    return sv.tune(*args, **{"figures": False, **kwargs})


def cli(argv: list[str]) -> int:
    try:
        return shiftvae_main(argv)
    except SystemExit as exc:
        return int(exc.code)


def write_grid_csv(path: Path, best: float) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "beta_start", "beta_end", "status", "physicality"])
        w.writerow(["bs0.1_be0.1", 0.1, 0.1, "ok", best / 2])
        w.writerow(["bs0.1_be1", 0.1, 1, "ok", best])
        w.writerow(["bs1_be1", 1, 1, "failed", ""])
    return path


def test_tune_stores_the_study_in_sqlite_and_a_rerun_continues_it(tmp_path, image, fit_calls):
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = tune(image, 4, CONFIG, tmp_path / "a", storage=storage, executor=pool)
    assert len(fit_calls) == 4 and len(first) == 4
    assert [r["trial"] for r in first] == [0, 1, 2, 3]
    for r in first:
        assert r["status"] == "ok" and 0 <= r["physicality"] <= 1
        assert 0.1 <= r["beta_start"] <= 10 and 0.1 <= r["beta_end"] <= 10
        assert r["final_reconstruction"] > 0 and r["final_kl"] >= 0
        assert r["physicality"] == pytest.approx(max(r["smoothness_z1"], r["smoothness_z2"]))
    assert sorted(fit_calls) == sorted((r["beta_start"], r["beta_end"]) for r in first)

    # Same storage, another output folder: the study goes on from its 4 trials.
    fit_calls.clear()
    with ThreadPoolExecutor(max_workers=2) as pool:
        second = tune(image, 6, CONFIG, tmp_path / "b", storage=storage, executor=pool)
    assert len(fit_calls) == 2 and len(second) == 6
    assert second[:4] == first[:4]
    new = {(r["beta_start"], r["beta_end"]) for r in second[4:]}
    assert new == set(fit_calls) and not new & {(r["beta_start"], r["beta_end"]) for r in first}
    study = optuna.load_study(study_name=tune_module.STUDY_NAME, storage=storage)
    assert len(study.trials) == 6
    assert study.best_value == max(r["physicality"] for r in second)

    # Already complete: nothing is trained, the records are returned.
    fit_calls.clear()
    with ThreadPoolExecutor(max_workers=2) as pool:
        third = tune(image, 5, CONFIG, tmp_path / "c", storage=storage, executor=pool)
    assert fit_calls == [] and third == second
    # the best trial's outputs live in the first two folders, report says where it is
    assert json.loads((tmp_path / "c" / "tune.json").read_text())["best"]["trial"] in range(6)


def test_cli_tune_resume_grows_the_study_and_reports(tmp_path, image_file, monkeypatch, capsys):
    monkeypatch.setattr(shiftvae.runs.executors, "LOCAL_PROCESSES", False)
    out = tmp_path / "tune"
    grid = write_grid_csv(tmp_path / "sweep.csv", best=0.05)
    argv = ["tune", str(image_file), "--out", str(out), "--workers", "2", "-q", *FAST]
    assert cli([*argv, "--trials", "2"]) == 0, capsys.readouterr().err
    assert (out / "study.db").is_file()
    report = (out / "report.html").read_text()
    assert "No grid search was given" in report
    with open(out / "tune.csv", newline="") as fh:
        first = list(csv.DictReader(fh))
    assert len(first) == 2

    assert cli([*argv, "--trials", "3"]) == 2  # the folder exists: --resume needed
    assert "--resume" in capsys.readouterr().err

    assert cli([*argv, "--trials", "3", "--resume", "--grid", str(grid)]) == 0
    with open(out / "tune.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 and rows[:2] == first
    summary = json.loads((out / "tune.json").read_text())
    assert summary["completed"] == 3 and summary["grid_best"] == 0.05
    values = [float(r["physicality"]) for r in rows]
    reached = next((i for i, v in enumerate(values, 1) if v >= 0.95 * 0.05), None)
    assert summary["trainings_to_within_5pct_of_grid"] == reached
    report = (out / "report.html").read_text()
    assert "Grid search best physicality: 0.0500" in report
    best = max(rows, key=lambda r: float(r["physicality"]))
    assert summary["best"]["name"] == best["name"]
    assert (out / "best" / "results.h5").is_file() and (out / "best" / "report.html").is_file()
    assert (out / "figures" / "optimisation_history.png").is_file()
    assert (out / "figures" / "trials.png").is_file()


def test_resumed_study_with_other_settings_is_refused(tmp_path, image):
    with ThreadPoolExecutor(max_workers=1) as pool:
        tune(image, 1, CONFIG, tmp_path, executor=pool, report=False)
        other = FitConfig(window=16, step=8, epochs=3, phases=None)
        with pytest.raises(sv.InputError, match=r"other settings.*epochs"):
            tune(image, 2, other, tmp_path, executor=pool)


def test_failing_trials_are_recorded_and_do_not_loop_forever(tmp_path, image, monkeypatch):
    calls = []

    def broken(image, config, progress=True):
        calls.append(config.beta_start)
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(shiftvae.pipeline.fit, "fit_image", broken)
    with ThreadPoolExecutor(max_workers=2) as pool:
        records = tune(image, 3, CONFIG, tmp_path, executor=pool, progress=False)
    assert len(calls) == 3  # max_failures defaults to n_trials
    assert [r["status"] for r in records] == ["failed"] * 3
    assert all(r["error"] == "RuntimeError: CUDA out of memory" for r in records)
    assert "No trial completed" in (tmp_path / "report.html").read_text()


def test_cli_tune_where_every_trial_fails_exits_2(tmp_path, image_file, monkeypatch, capsys):
    monkeypatch.setattr(shiftvae.runs.executors, "LOCAL_PROCESSES", False)

    def broken(image, config, progress=True):
        raise RuntimeError("disk full")

    monkeypatch.setattr(shiftvae.pipeline.fit, "fit_image", broken)
    out = tmp_path / "tune"
    rc = cli(["tune", str(image_file), "--out", str(out), "--trials", "2", "-q", *FAST])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "every trial failed" in err[-1] and "disk full" in err[-1]


def test_interrupted_trials_of_the_own_study_are_closed_on_resume(tmp_path, image, fit_calls):
    storage = tune_module.default_storage(tmp_path)
    study = tune_module.open_study(storage)
    study.ask()  # a trial left RUNNING by a driver that was killed
    with ThreadPoolExecutor(max_workers=1) as pool:
        records = tune(image, 1, CONFIG, tmp_path, executor=pool, report=False)
    assert len(fit_calls) == 1 and [r["status"] for r in records] == ["ok"]
    states = [
        t.state for t in optuna.load_study(study_name="shiftvae-beta", storage=storage).trials
    ]
    assert states == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.COMPLETE]


@pytest.mark.parametrize(
    "storage",
    [
        "sqlite:////nonexistent-folder/sub/study.db",
        "nosuchdialect://user@host/db",
        "{tmp}/no-such-folder/study.journal",
    ],
)
def test_storage_that_cannot_be_opened(tmp_path, image, image_file, capsys, storage):
    storage = storage.format(tmp=tmp_path)
    with pytest.raises(sv.InputError, match="cannot open the Optuna storage"):
        tune(image, 1, CONFIG, tmp_path / "api", storage=storage)
    out = tmp_path / "cli"
    rc = cli(["tune", str(image_file), "--out", str(out), "--storage", storage, *FAST])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("shiftvae tune: error: cannot open the Optuna storage")
    assert not out.exists()


def test_journal_file_storage(tmp_path, image, fit_calls):
    journal = tmp_path / "study.journal"
    with ThreadPoolExecutor(max_workers=1) as pool:
        records = tune(image, 2, CONFIG, tmp_path / "out", storage=str(journal), executor=pool)
    assert len(records) == 2 and journal.is_file()


def test_bad_tune_arguments(tmp_path, image, image_file, capsys):
    with pytest.raises(sv.InputError, match="number of trials"):
        tune(image, 0, CONFIG, tmp_path)
    with pytest.raises(sv.InputError, match="cannot read the grid search results"):
        tune(image, 1, CONFIG, tmp_path, grid=tmp_path / "missing.csv")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tic = time.perf_counter()
    with pytest.raises(sv.InputError, match="cannot reach the Dask scheduler"):
        tune(image, 1, CONFIG, tmp_path, scheduler=f"tcp://127.0.0.1:{port}")
    assert time.perf_counter() - tic < 10
    out = tmp_path / "cli"
    rc = cli(["tune", str(image_file), "--out", str(out), "--trials", "0", *FAST])
    assert rc == 2 and "--trials" in capsys.readouterr().err
    rc = cli(["tune", str(image_file), "--out", str(out), "--scheduler", f"127.0.0.1:{port}"])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach the Dask scheduler" in err[0]
    assert not out.exists()


def test_trainings_to_reach_counts_failed_trainings_too():
    records = [
        {"trial": 0, "status": "ok", "physicality": 0.5},
        {"trial": 1, "status": "failed", "physicality": None},
        {"trial": 2, "status": "ok", "physicality": 0.96},
        {"trial": 3, "status": "ok", "physicality": 1.0},
    ]
    assert tune_module.trainings_to_reach(records, 1.0) == 3
    assert tune_module.trainings_to_reach(records, 1.0, tol=0.0) == 4
    assert tune_module.trainings_to_reach(records[:2], 1.0) is None


def test_trainings_to_reach_skips_trials_interrupted_before_training_ended():
    records = [
        {"trial": 0, "status": "ok", "physicality": 0.5, "error": ""},
        {"trial": 1, "status": "failed", "physicality": None, "error": "interrupted"},
        {"trial": 2, "status": "failed", "physicality": None, "error": "ValueError: bad"},
        {"trial": 3, "status": "ok", "physicality": 1.0, "error": ""},
    ]
    assert tune_module.trainings_to_reach(records, 1.0) == 3


def asked_betas(storage: str, seed: int, n: int) -> list[tuple[float, float]]:
    """The betas a study asks for when its driver is restarted before every trial."""
    dist = optuna.distributions.FloatDistribution(*tune_module.BETA_RANGE, log=True)
    out = []
    for i in range(n):
        study = tune_module.open_study(storage, seed=seed)
        trial = study.ask({"beta_start": dist, "beta_end": dist})
        study.tell(trial, float(i))
        out.append((trial.params["beta_start"], trial.params["beta_end"]))
    return out


def test_studies_of_other_seeds_do_not_share_their_trials(tmp_path):
    """A seed of seed + trials so far made study 1 replay study 0 one trial later."""
    first = asked_betas(f"sqlite:///{tmp_path / 'a.db'}", seed=0, n=3)
    second = asked_betas(f"sqlite:///{tmp_path / 'b.db'}", seed=1, n=3)
    assert not set(first) & set(second)
    assert len(set(first)) == 3  # a resumed study does not repeat its random trials
    assert asked_betas(f"sqlite:///{tmp_path / 'c.db'}", seed=0, n=3) == first


def test_a_stale_trial_whose_run_was_written_is_kept_not_retrained(tmp_path, image, fit_calls):
    """The driver died after the worker wrote the trial's run but before it told the study:
    on resume the trial is COMPLETE with the run's physicality, and is not trained again."""
    storage = tune_module.default_storage(tmp_path)
    study = tune_module.open_study(storage)
    beta = optuna.distributions.FloatDistribution(0.1, 10, log=True)
    trial = study.ask({"beta_start": beta, "beta_end": beta})
    run = tmp_path / "runs" / "trial0000_written"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(
        json.dumps({"name": run.name, "status": "ok", "physicality": 0.25, "train_s": 1.5})
    )
    trial.set_user_attr("folder", str(run))
    trial.set_user_attr("name", run.name)
    with ThreadPoolExecutor(max_workers=1) as pool:
        records = tune(image, 2, CONFIG, tmp_path, executor=pool, report=False)
    assert len(fit_calls) == 1  # only the second trial was trained
    assert [r["status"] for r in records] == ["ok", "ok"] and records[0]["physicality"] == 0.25
    assert records[0]["train_s"] == 1.5


def test_a_trial_killed_between_its_two_suggestions_is_left_out_of_the_records():
    """A driver killed after beta_start was suggested, before beta_end: the trial, closed as
    failed on resume, has one parameter only; the records once failed on it (KeyError)."""
    from shiftvae.runs.tune import trial_records

    study = optuna.create_study(direction="minimize")
    half = study.ask()
    half.suggest_float("beta_start", 0.01, 1.0)
    study.tell(half, state=optuna.trial.TrialState.FAIL)
    whole = study.ask()
    whole.suggest_float("beta_start", 0.01, 1.0)
    whole.suggest_float("beta_end", 0.1, 4.0)
    study.tell(whole, 0.5)
    records = trial_records(study)
    assert [r.trial for r in records] == [whole.number] and records[0].status == "ok"
