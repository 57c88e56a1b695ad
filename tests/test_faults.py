"""Faults met on real machines: a writer that stops part way, a full disk."""

from __future__ import annotations

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
