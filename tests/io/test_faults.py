"""Faults met on real machines: a writer that stops part way, a full disk."""

from __future__ import annotations

import csv
import errno

import h5py
import numpy as np
import pytest

import shiftvae as sv
import shiftvae.results as results_module
from shiftvae.cli import main
from shiftvae.model.module import ShiftVAEModule
from shiftvae.results import write_results_h5


@pytest.fixture(scope="module")
def small_fit():
    image = sv.synthetic.lattice_image(size=64, period=8.0, seed=2)
    config = sv.FitConfig(window=16, step=8, epochs=1, hidden=(8, 8), lattice=None, phases=None)
    return sv.fit_image(image, config, progress=False)


def test_results_h5_is_complete_or_absent(tmp_path, small_fit, monkeypatch):
    path = write_results_h5(tmp_path / "results.h5", small_fit)
    with h5py.File(path, "r") as f:
        assert f.attrs["complete"]
    assert sv.load_results(path).maps.z.shape == small_fit.maps.z.shape

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(results_module, "_nxdata", full_disk)  # fails part way through
    with pytest.raises(OSError, match="No space left"):
        write_results_h5(tmp_path / "again.h5", small_fit)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.h5"]  # nothing half-written


def test_load_results_refuses_an_unfinished_file(tmp_path, small_fit):
    path = write_results_h5(tmp_path / "results.h5", small_fit)
    with h5py.File(path, "r+") as f:
        f.attrs["complete"] = False  # as left by a writer killed before its last line
    with pytest.raises(sv.ReaderError, match="was not finished"):
        sv.load_results(tmp_path)
    with h5py.File(path, "r+") as f:
        del f.attrs["complete"]  # files written before the flag existed are read
    assert np.isfinite(sv.load_results(tmp_path).maps.z).all()


def test_cli_full_disk_says_so_and_leaves_no_folder(tmp_path, capsys, monkeypatch):
    image = tmp_path / "img.npy"
    np.save(image, sv.synthetic.lattice_image(size=64, period=8.0, seed=2))

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(results_module, "_nxdata", full_disk)
    out = tmp_path / "run"
    argv = ["fit", str(image), "--out", str(out), "--epochs", "1", "--window", "16"]
    code = main([*argv, "--lattice", "none", "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "disk is full" in err[0]
    assert "checkpoint of epoch 1 of 1 is kept" in err[0] and "--resume" in err[0]
    assert not out.exists()
    kept = [p.name for p in tmp_path.iterdir() if p.name != "img.npy"]
    assert kept == [".run.partial"], kept  # training had finished: kept for --resume
    assert not list((tmp_path / ".run.partial").glob("results.h5*"))
    monkeypatch.undo()  # space freed: --resume writes the outputs without training again
    steps = []
    loss = ShiftVAEModule.loss
    monkeypatch.setattr(ShiftVAEModule, "loss", lambda *a, **k: steps.append(1) or loss(*a, **k))
    assert main([*argv, "--lattice", "none", "-q", "--resume"]) == 0
    assert not steps  # no optimisation step: the kept checkpoint had finished training
    assert len(sv.load_results(out).history["loss"]) == 1
    assert not (tmp_path / ".run.partial").exists()


def test_gpu_out_of_memory_says_which_option_to_lower(tmp_path, capsys, monkeypatch):
    """Simulated on any device: the step raises torch's CUDA out-of-memory error."""
    import torch

    def no_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    X = sv.synthetic.sine_waves(n=100, length=20, seed=0)[0]
    model = sv.ShiftVAE((20,), hidden=(8, 8), seed=0)
    before = [p.detach().cpu().clone() for p in model.module_.parameters()]
    monkeypatch.setattr(ShiftVAEModule, "loss", no_memory)
    with pytest.raises(sv.DeviceMemoryError, match=r"batch size 50 .*e\.g\. to 25"):
        model.fit(X, epochs=2, batch_size=50, progress=False)
    after = [p.detach().cpu() for p in model.module_.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(before, after))
    monkeypatch.setattr(ShiftVAEModule, "inference", no_memory)
    with pytest.raises(sv.DeviceMemoryError, match="lower batch_size"):
        model.encode(X, batch_size=40)
    image = tmp_path / "img.npy"
    np.save(image, sv.synthetic.lattice_image(size=64, period=8.0, seed=2))
    out = tmp_path / "run"
    argv = ["fit", str(image), "--out", str(out), "--epochs", "1", "--window", "16", "-q"]
    assert main([*argv, "--lattice", "none"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ran out of memory" in err[0] and "--batch-size" in err[0]
    assert not out.exists()


@pytest.fixture
def prober(monkeypatch):
    """A fresh HDF5 probe helper for the test (and the usual one again afterwards)."""
    import shiftvae.io.hdf5_probe as probe

    real = probe._SERVER

    def use(server: str | None = None):
        monkeypatch.setattr(probe, "_SERVER", real if server is None else server)
        fresh = probe._Prober()
        monkeypatch.setattr(probe, "_PROBER", fresh)
        return fresh

    yield use
    probe._PROBER.close()


@pytest.fixture
def h5_image(tmp_path):
    path = tmp_path / "scan.h5"
    with h5py.File(path, "w") as f:
        f["data"] = sv.synthetic.lattice_image(size=32, period=8.0)
        f["data"].attrs["title"] = "a scan"
    return path


def test_a_file_that_crashes_libhdf5_is_refused_and_we_survive(prober, h5_image):
    """The helper dies from a signal on the file (as libhdf5 does on the fuzzed files the
    benchmark found): a ReaderError names the file and the signal; this process goes on."""
    prober(
        "import os, signal, sys\nfor line in sys.stdin:\n    os.kill(os.getpid(), signal.SIGSEGV)\n"
    )
    with pytest.raises(sv.ReaderError, match=r"scan\.h5 is a corrupt HDF5 file.*SIGSEGV"):
        sv.read_image(h5_image)
    prober()  # the real helper: the same file reads
    assert sv.read_image(h5_image).data.shape == (32, 32)


def test_a_file_whose_opening_hangs_is_refused(prober, h5_image, monkeypatch):
    import shiftvae.io.hdf5_probe as probe

    prober("import sys, time\nfor line in sys.stdin:\n    time.sleep(60)\n")
    with pytest.raises(sv.ReaderError, match="took more than 1 s"):
        probe.probe_hdf5(h5_image, timeout=1.0)


def test_each_hdf5_file_is_probed_once(prober, h5_image, tmp_path):
    helper = prober()
    sv.read_image(h5_image)
    first = helper.proc.pid
    helper.proc.stdin.close()  # a second probe of the same file would need the helper
    helper.proc.wait()
    assert sv.read_image(h5_image).data.shape == (32, 32)  # not probed again
    other = tmp_path / "other.hdf5"
    other.write_bytes(h5_image.read_bytes())
    sv.read_image(other)  # a new file: a new helper, started on demand
    assert helper.proc.pid != first


def _small_scans(tmp_path, n: int, epochs: int):
    """n small lattice images saved as .npy, and a quick fit configuration for them."""
    paths = [tmp_path / f"scan{i}.npy" for i in range(n)]
    for i, path in enumerate(paths):
        np.save(path, sv.synthetic.lattice_image(size=64, period=8.0, seed=i))
    config = sv.FitConfig(
        epochs=epochs, hidden=(8, 8), phases=None, lattice=None, window=16, step=4
    )
    return paths, config


def test_a_worker_killed_mid_fit_is_replaced_and_the_batch_finishes(tmp_path):
    """SIGKILL to a Dask worker process while it trains: the scheduler gives its fit to
    another worker (the nanny starts a new one), and every image ends fitted."""
    import os
    import signal
    import threading
    import time

    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    from shiftvae.runs.batch import fit_many

    paths, config = _small_scans(tmp_path, 3, epochs=60)
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    client = distributed.Client(cluster)
    try:
        out: dict = {}
        run = threading.Thread(
            target=lambda: out.update(
                records=fit_many(
                    paths, config, tmp_path / "out", executor=client, progress=False, figures=False
                )
            )
        )
        run.start()
        busy: list = []
        deadline = time.monotonic() + 60
        while not busy and time.monotonic() < deadline:
            busy = [w for w, tasks in client.processing().items() if tasks]
            time.sleep(0.2)
        assert busy, "no fit started on the cluster"
        time.sleep(1.0)  # well inside the training
        pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
        os.kill(pid, signal.SIGKILL)
        run.join(timeout=300)
        assert not run.is_alive()
        assert [r["status"] for r in out["records"]] == ["ok"] * 3
    finally:
        client.close()
        cluster.close()


def test_a_scheduler_that_goes_away_stops_the_batch_in_one_sentence_and_resume_completes(
    tmp_path,
):
    """The cluster (scheduler and workers) is closed after the first image is fitted: the
    driver raises SchedulerLostError, summary.csv lists what was done, and a new run on
    another cluster fits only the rest."""
    import threading
    import time

    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    from shiftvae.runs.batch import fit_many

    paths, config = _small_scans(tmp_path, 4, epochs=80)
    out = tmp_path / "out"
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    caught: dict = {}

    def drive():
        try:
            fit_many(
                paths, config, out, scheduler=cluster.scheduler_address, progress=False,
                figures=False,
            )  # fmt: skip
        except Exception as exc:
            caught["exc"] = exc

    run = threading.Thread(target=drive)
    run.start()
    deadline = time.monotonic() + 120
    while not list(out.glob("runs/*/metrics.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    cluster.close()
    run.join(timeout=120)
    assert not run.is_alive()
    exc = caught.get("exc")
    assert isinstance(exc, sv.SchedulerLostError), exc
    assert "went away after" in str(exc) and "--resume" in str(exc) and "\n" not in str(exc)
    with open(out / "summary.csv") as fh:
        statuses = [row["status"] for row in csv.DictReader(fh)]
    assert "ok" in statuses and "failed" in statuses
    # finished runs only: a hidden .partial folder is a run the lost scheduler cut short
    finished = [p for p in out.glob("runs/*/model.pt") if not p.parent.name.startswith(".")]
    done = {p.parent.name: p.stat().st_mtime_ns for p in finished}
    records = fit_many(
        paths, config, out, workers=1, processes=False, progress=False, figures=False
    )
    assert [r["status"] for r in records] == ["ok"] * 4
    for name, stamp in done.items():  # fitted before the loss: not fitted again
        assert (out / "runs" / name / "model.pt").stat().st_mtime_ns == stamp


def test_a_killed_tune_driver_restarts_and_finishes_without_retraining(tmp_path):
    """SIGKILL to `shiftvae tune` (and its workers) after its first trial: `--resume` closes
    the trial that was running (kept if its run had been written, as happens when the kill
    lands between the worker's last write and the driver's tell), keeps the finished ones
    untouched and completes the study with four trainings in all."""
    import os
    import signal
    import subprocess
    import sys
    import time

    optuna = pytest.importorskip("optuna", reason="optuna is not installed (the sweep extra)")
    image = tmp_path / "scan.npy"
    np.save(image, sv.synthetic.lattice_image(size=64, period=8.0, seed=0))
    out = tmp_path / "tune"
    argv = [sys.executable, "-m", "shiftvae", "tune", str(image), "--out", str(out),
            "--trials", "4", "--workers", "1", "--window", "16", "--step", "8",
            "--epochs", "60", "--phases", "none", "--no-figures", "-q"]  # fmt: skip

    def finished() -> list[str]:
        return [
            os.path.join(root, "model.pt")
            for root, _, files in os.walk(tmp_path)
            if "metrics.json" in files and "model.pt" in files
        ]

    driver = subprocess.Popen(argv, start_new_session=True)
    deadline = time.monotonic() + 120
    while not finished() and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and its Dask workers
    driver.wait()
    before = {path: os.stat(path).st_mtime_ns for path in finished()}
    assert 1 <= len(before) < 4
    subprocess.run([*argv, "--resume"], check=True, timeout=300)
    study = optuna.load_study(study_name="shiftvae-beta", storage=f"sqlite:///{out / 'study.db'}")
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 4
    assert len(list((out / "runs").glob("*/model.pt"))) == 4  # none was trained twice
    for path, stamp in before.items():  # trained before the kill: not trained again
        moved = path.replace(f".{out.name}.partial", out.name)
        assert os.stat(moved).st_mtime_ns == stamp


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="POSIX resource limits")
def test_a_real_file_size_limit_gives_one_sentence_and_no_folder(tmp_path):
    """RLIMIT_FSIZE (what a quota or a small volume does to a writer, enforced by the OS):
    the checkpoint cannot be completed.  torch's writer raised a RuntimeError there, which
    escaped as a traceback with exit code 1; now it is one sentence, exit code 2."""
    import resource
    import signal
    import subprocess
    import sys

    image = tmp_path / "scan.npy"
    np.save(image, sv.synthetic.lattice_image(size=64, period=8.0, seed=0))

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))

    out = tmp_path / "run"
    argv = [sys.executable, "-m", "shiftvae", "fit", str(image), "--out", str(out),
            "--epochs", "2", "--window", "16", "--step", "8", "--lattice", "none",
            "--phases", "none", "-q"]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, preexec_fn=limit, timeout=300)
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(err) == 1, proc.stderr[-2000:]
    assert "could not write the checkpoint" in err[0] and "free some space" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scan.npy"]  # nothing left behind
