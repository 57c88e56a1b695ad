"""Beta grid search: API, command line, resume, failed runs, bad input."""

from __future__ import annotations

import csv
import importlib
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import shiftvae as sv
import shiftvae.pipeline.fit
import shiftvae.runs.executors
from shiftvae.cli import main as shiftvae_main
from shiftvae.pipeline.fit import FitConfig

sweep_module = importlib.import_module("shiftvae.runs.sweep")  # sv.sweep is the function

# Tiny settings: a 96 x 96 lattice, 16 px windows every 8 px (11 x 11 maps), 2 epochs.
CONFIG = FitConfig(window=16, step=8, epochs=2, phases=None)
FAST = ["--window", "16", "--step", "8", "--epochs", "2", "--phases", "none", "--no-figures"]


def sweep(*args, **kwargs):
    """sv.sweep without each run's own figures (drawn in one test only: seconds per run)."""
    return sv.sweep(*args, **{"figures": False, **kwargs})


COLUMNS = [
    "name",
    "beta_start",
    "beta_end",
    "status",
    "physicality",
    "smoothness_z1",
    "smoothness_z2",
    "smoothness_shift1",
    "smoothness_shift2",
    "final_loss",
    "final_reconstruction",
    "final_kl",
    "train_s",
    "error",
]


@pytest.fixture
def threaded_cluster(monkeypatch):
    """Local Dask clusters run their workers as threads: the same code path, quick to start."""
    monkeypatch.setattr(shiftvae.runs.executors, "LOCAL_PROCESSES", False)


def cli(argv: list[str]) -> int:
    """Exit code of the ``shiftvae`` command (argparse errors exit through SystemExit)."""
    try:
        return shiftvae_main(argv)
    except SystemExit as exc:
        return int(exc.code)


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mtimes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.glob("runs/*/*")}


# --- command line ---------------------------------------------------------------------------


def test_cli_sweep_2x2_on_a_local_cluster_writes_every_output(
    tmp_path, image_file, threaded_cluster, capsys
):
    out = tmp_path / "sweep"
    argv = ["sweep", str(image_file), "--out", str(out), "--workers", "2", *FAST]
    rc = cli([*argv, "--beta-start", "0.1,1", "--beta-end", "0.1,10"])
    assert rc == 0, capsys.readouterr().err

    fields, rows = read_rows(out / "sweep.csv")
    assert fields == COLUMNS
    assert [(float(r["beta_start"]), float(r["beta_end"])) for r in rows] == [
        (0.1, 0.1),
        (0.1, 10.0),
        (1.0, 0.1),
        (1.0, 10.0),
    ]
    for r in rows:
        assert r["status"] == "ok" and r["error"] == ""
        smooth = [float(r["smoothness_z1"]), float(r["smoothness_z2"])]
        assert float(r["physicality"]) == pytest.approx(max(smooth))
        assert 0 <= float(r["physicality"]) <= 1
        assert float(r["final_loss"]) > 0 and float(r["final_kl"]) >= 0
        assert float(r["final_reconstruction"]) > 0
        assert (out / "runs" / r["name"] / "results.h5").is_file()
        # --no-figures: no run draws its own, its report says where the numbers are
        assert not (out / "runs" / r["name"] / "figures").exists()
        assert "Not drawn (--no-figures)" in (out / "runs" / r["name"] / "report.html").read_text()

    heat = out / "figures" / "physicality_heatmap.png"
    assert heat.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    best = max(rows, key=lambda r: float(r["physicality"]))
    assert (out / "best" / "results.h5").is_file()
    assert (out / "best" / "report.html").is_file()
    stored = json.loads((out / "best" / "metrics.json").read_text())
    assert stored["name"] == best["name"]
    assert sv.load_results(out / "best").metrics["physicality"] == pytest.approx(
        float(best["physicality"])
    )
    grid = json.loads((out / "grid.json").read_text())
    assert grid["beta_start"] == [0.1, 1.0] and grid["beta_end"] == [0.1, 10.0]
    assert np.nanmax(np.array(grid["physicality"], dtype=float)) == pytest.approx(
        float(best["physicality"])
    )
    report = (out / "report.html").read_text()
    assert "data:image/png;base64" in report and best["name"] in report
    assert not (tmp_path / ".sweep.partial").exists()

    # --resume trains nothing again: every run file keeps its modification time
    before = mtimes(out)
    rc = cli([*argv, "--beta-start", "0.1,1", "--beta-end", "0.1,10", "--resume"])
    assert rc == 0
    assert mtimes(out) == before
    assert "4 runs already done, 0 to train" in capsys.readouterr().err
    assert len(read_rows(out / "sweep.csv")[1]) == 4

    # ... and a larger grid with --resume trains only the new pairs
    rc = cli([*argv, "--beta-start", "0.1,1", "--beta-end", "0.1,1,10", "--resume", "-q"])
    assert rc == 0
    after = mtimes(out)
    assert {k: v for k, v in after.items() if k in before} == before
    assert {Path(k).parts[1] for k in after} - {Path(k).parts[1] for k in before} == {
        "bs0.1_be1",
        "bs1_be1",
    }
    assert len(read_rows(out / "sweep.csv")[1]) == 6


def test_cli_sweep_refuses_an_existing_folder_without_resume(tmp_path, image_file, capsys):
    out = tmp_path / "sweep"
    out.mkdir()
    rc = cli(["sweep", str(image_file), "--out", str(out), *FAST])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already exists" in err[0] and "--resume" in err[0]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--beta-start", "0,1", "positive"),
        ("--beta-start", "=-0.5,1", "positive"),
        ("--beta-end", "0.1,abc", "comma-separated numbers"),
        ("--beta-end", "0.1,,1", "comma-separated numbers"),
        ("--beta-end", "nan", "positive"),
        ("--beta-start", "", "comma-separated numbers"),
    ],
)
def test_cli_sweep_rejects_bad_beta_lists(tmp_path, image_file, capsys, option, value, message):
    out = tmp_path / "sweep"
    arg = [option + value] if value.startswith("=") else [option, value]
    rc = cli(["sweep", str(image_file), "--out", str(out), *arg])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and option in err[0]
    assert not out.exists()


def test_cli_sweep_unreachable_scheduler_fails_fast(tmp_path, image_file, capsys):
    out = tmp_path / "sweep"
    address = f"tcp://127.0.0.1:{free_port()}"
    tic = time.perf_counter()
    rc = cli(["sweep", str(image_file), "--out", str(out), "--scheduler", address, *FAST])
    assert time.perf_counter() - tic < 10
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("shiftvae sweep: error: cannot reach the Dask scheduler")
    assert address in err[0]
    assert not out.exists() and not (tmp_path / ".sweep.partial").exists()


def test_cli_sweep_where_every_run_fails_exits_2_with_the_reason(
    tmp_path, image_file, threaded_cluster, monkeypatch, capsys
):
    def broken(image, config, progress=True):
        raise RuntimeError("out of memory on the worker")

    monkeypatch.setattr(shiftvae.pipeline.fit, "fit_image", broken)
    out = tmp_path / "sweep"
    argv = ["sweep", str(image_file), "--out", str(out), "--workers", "2", "-q", *FAST]
    rc = cli([*argv, "--beta-start", "1", "--beta-end", "0.1,1"])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "all 2 runs failed" in err[-1] and "out of memory on the worker" in err[-1]
    _, rows = read_rows(out / "sweep.csv")
    assert [r["status"] for r in rows] == ["failed", "failed"]
    assert (out / "report.html").is_file() and not (out / "best").exists()


# --- API ------------------------------------------------------------------------------------


def test_failed_run_is_recorded_and_the_sweep_goes_on_then_resume_retrains_only_it(
    tmp_path, image, monkeypatch
):
    real = shiftvae.pipeline.fit_image
    calls: list[tuple[float, float]] = []

    def flaky(image, config, progress=True):
        calls.append((config.beta_start, config.beta_end))
        if (config.beta_start, config.beta_end) == (1.0, 1.0):
            raise FloatingPointError("loss became NaN at epoch 1")
        return real(image, config, progress=progress)

    monkeypatch.setattr(shiftvae.pipeline.fit, "fit_image", flaky)
    with ThreadPoolExecutor(max_workers=2) as pool:
        records = sweep(image, [0.1, 1], [0.1, 1], CONFIG, tmp_path, executor=pool, progress=False)
    assert len(calls) == 4
    assert [r["name"] for r in records] == ["bs0.1_be0.1", "bs0.1_be1", "bs1_be0.1", "bs1_be1"]
    failed = records[3]
    assert failed["status"] == "failed"
    assert failed["error"] == "FloatingPointError: loss became NaN at epoch 1"
    assert "FloatingPointError" in (tmp_path / "runs" / "bs1_be1" / "error.txt").read_text()
    assert all(r["status"] == "ok" for r in records[:3])
    _, rows = read_rows(tmp_path / "sweep.csv")
    assert rows[3]["status"] == "failed" and "loss became NaN" in rows[3]["error"]
    assert rows[3]["physicality"] == "" and rows[0]["physicality"] != ""
    assert "loss became NaN" in (tmp_path / "report.html").read_text()
    grid = json.loads((tmp_path / "grid.json").read_text())["physicality"]
    assert grid[1][1] is None and None not in grid[0]

    # Resume: the three finished runs are kept, the failed one is trained again.
    calls.clear()

    def fixed(image, config, progress=True):
        calls.append((config.beta_start, config.beta_end))
        return real(image, config, progress=progress)

    monkeypatch.setattr(shiftvae.pipeline.fit, "fit_image", fixed)

    with ThreadPoolExecutor(max_workers=2) as pool:
        again = sweep(image, [0.1, 1], [0.1, 1], CONFIG, tmp_path, executor=pool, progress=False)
    assert calls == [(1.0, 1.0)]
    assert [r["status"] for r in again] == ["ok"] * 4
    assert again[:3] == records[:3]


def test_a_task_that_dies_on_its_worker_is_recorded(tmp_path, image, monkeypatch):
    """Errors outside the training (a killed worker, a task that cannot start) count too."""
    real = sweep_module.train_one

    def dying(image, config, folder, threads, figures):
        if config.beta_end == 10:
            raise MemoryError("worker killed")
        return real(image, config, folder, threads)

    monkeypatch.setattr(sweep_module, "train_one", dying)
    with ThreadPoolExecutor(max_workers=2) as pool:
        records = sweep(image, [0.5], [0.1, 10], CONFIG, tmp_path, executor=pool)
    assert [r["status"] for r in records] == ["ok", "failed"]
    assert records[1]["error"] == "MemoryError: worker killed"
    assert json.loads((tmp_path / "grid.json").read_text())["best"] == "bs0.5_be0.1"


def test_sweep_on_a_threaded_local_cluster_returns_the_table(tmp_path, image, fit_calls):
    records = sweep(image.data, [0.1], [0.1, 1, 1.0], CONFIG, tmp_path, workers=2, processes=False)
    assert sorted(fit_calls) == [(0.1, 0.1), (0.1, 1.0)]  # the repeated 1.0 trains once
    assert [list(r)[:5] for r in records] == [COLUMNS[:5]] * 2
    assert all(r["status"] == "ok" for r in records), [r["error"] for r in records]
    assert (tmp_path / "best" / "model.pt").is_file()


def test_resume_with_other_settings_trains_again(tmp_path, image, fit_calls):
    with ThreadPoolExecutor(max_workers=1) as pool:
        sweep(image, [0.1], [1], CONFIG, tmp_path, executor=pool, report=False)
        sweep(image, [0.1], [1], CONFIG, tmp_path, executor=pool, report=False)
        assert len(fit_calls) == 1
        other = FitConfig(window=16, step=8, epochs=3, phases=None)
        records = sweep(image, [0.1], [1], other, tmp_path, executor=pool, report=False)
    assert len(fit_calls) == 2
    stored = json.loads((tmp_path / "runs" / "bs0.1_be1" / "metrics.json").read_text())
    assert stored["config"]["epochs"] == 3 and records[0]["status"] == "ok"


@pytest.mark.parametrize(
    ("starts", "ends", "message"),
    [
        ([0.1, 0], [1], "beta_start values must be positive"),
        ([0.1], [-1.0], "beta_end values must be positive"),
        ([0.1], [float("nan")], "beta_end values must be positive"),
        ([0.1], [float("inf")], "beta_end values must be positive"),
        ([], [1], "beta_start needs at least one value"),
        (["a"], [1], "beta_start must be numbers"),
    ],
)
def test_api_rejects_bad_betas(tmp_path, image, starts, ends, message):
    with pytest.raises(sv.InputError, match=message):
        sweep(image, starts, ends, CONFIG, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_api_unreachable_scheduler_is_an_input_error_within_10_s(tmp_path, image):
    tic = time.perf_counter()
    with pytest.raises(sv.InputError, match="cannot reach the Dask scheduler"):
        sweep(image, [1], [1], CONFIG, tmp_path, scheduler=f"tcp://127.0.0.1:{free_port()}")
    assert time.perf_counter() - tic < 10
    with pytest.raises(sv.InputError, match="invalid Dask scheduler address"):
        sweep(image, [1], [1], CONFIG, tmp_path, scheduler="tcp://127.0.0.1")


def test_api_rejects_settings_that_cannot_work_before_training(tmp_path, image, fit_calls):
    with pytest.raises(sv.InputError, match="window"):
        sweep(image, [1], [1], FitConfig(window=0), tmp_path)
    with pytest.raises(sv.InputError, match="workers"):
        sweep(image, [1], [1], CONFIG, tmp_path, workers=0)
    with pytest.raises(sv.InputError, match="submit"):
        sweep(image, [1], [1], CONFIG, tmp_path, executor=object())
    assert fit_calls == []


@pytest.mark.slow
def test_sweep_on_a_local_cluster_of_processes(tmp_path, image):
    """The default cluster: worker processes, the image scattered to them once; every run
    with its own figures by default."""
    records = sv.sweep(image, [0.1], [0.1, 1], CONFIG, tmp_path, workers=2, progress=False)
    assert [r["status"] for r in records] == ["ok", "ok"]
    assert all((tmp_path / "runs" / r["name"] / "results.h5").is_file() for r in records)
    assert all(
        (tmp_path / "runs" / r["name"] / "figures" / "training.png").is_file() for r in records
    )


def test_runner_threads_do_not_oversubscribe_cores(monkeypatch):
    monkeypatch.setattr(shiftvae.runs.executors.os, "cpu_count", lambda: 16)
    with ThreadPoolExecutor(max_workers=4) as pool:
        runner = shiftvae.runs.executors.Runner(pool)
        assert (runner.slots, runner.threads) == (4, 4)
    assert shiftvae.runs.executors.threads_per_worker(32) == 1


def test_runner_gives_one_thread_per_run_in_a_forking_process_pool(monkeypatch):
    monkeypatch.setattr(shiftvae.runs.executors.os, "cpu_count", lambda: 16)
    fork, spawn = (multiprocessing.get_context(m) for m in ("fork", "spawn"))
    with ProcessPoolExecutor(max_workers=2, mp_context=fork) as pool:
        with pytest.warns(RuntimeWarning, match="forks its workers.*'spawn'.*8 threads"):
            assert shiftvae.runs.executors.Runner(pool).threads == 1
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        assert shiftvae.runs.executors.Runner(pool).threads == 8


FORKED_SWEEP = """
import warnings
from concurrent.futures import ProcessPoolExecutor
import multiprocessing, torch
import shiftvae as sv
from shiftvae.pipeline.fit import FitConfig
torch.set_num_threads(2)
a = torch.randn(1024, 1024)
(a @ a).sum()  # this process's OpenMP threads are now running
image = sv.Image(sv.synthetic.lattice_image(96, period=8.0, seed=1), None, "px", "lattice")
config = FitConfig(window=16, step=8, epochs=2, phases=None)
fork = multiprocessing.get_context("fork")
with warnings.catch_warnings(), ProcessPoolExecutor(1, mp_context=fork) as pool:
    warnings.simplefilter("ignore", RuntimeWarning)
    records = sv.sweep(image, [1], [1], config, OUT, executor=pool, progress=False,
                       report=False, figures=False)
print(records[0]["status"])
"""


@pytest.mark.slow
def test_sweep_on_a_forking_process_pool_after_torch_used_threads_does_not_hang(tmp_path):
    """With two threads per run, the forked worker used to hang in its first parallel op."""
    code = FORKED_SWEEP.replace("OUT", repr(str(tmp_path / "sweep")))
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # on a hang, the forked worker is killed with its parent
    )
    try:
        out, err = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("the sweep on a forked worker hung")
    assert proc.returncode == 0, err
    assert out.split() == ["ok"]


def test_sweep_on_an_existing_cluster_by_address(tmp_path, image, fit_calls):
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=":0"
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://")
        with shiftvae.runs.executors.open_runner(scheduler=address) as runner:
            # both workers on this host: its cores are shared between their 2 task slots
            assert runner.slots == 2
            assert runner.threads == shiftvae.runs.executors.threads_per_worker(2)
        records = sweep(image, [0.1], [0.1, 1], CONFIG, tmp_path, scheduler=address, report=False)
    assert [r["status"] for r in records] == ["ok", "ok"]
    assert sorted(fit_calls) == [(0.1, 0.1), (0.1, 1.0)]
