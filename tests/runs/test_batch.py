"""Batch mode: many unrelated images fitted separately on a Dask cluster, failures recorded."""

from __future__ import annotations

import csv
import time

import numpy as np
import pytest

import shiftvae as sv
from shiftvae.cli import main as shiftvae_main
from shiftvae.pipeline.fit import FitConfig
from shiftvae.runs.batch import batch_images
from shiftvae.runs.batch import fit_many as fit_many_drawn

pytest.importorskip("distributed", reason="dask.distributed is not installed (the sweep extra)")

CONFIG = FitConfig(epochs=2, hidden=(8, 8), phases=None, lattice=None, window=16, step=8)


def fit_many(*args, **kwargs):
    """fit_many without each image's figures (the command line test draws them)."""
    return fit_many_drawn(*args, **{"figures": False, **kwargs})


def cli(argv: list[str]) -> int:
    try:
        return shiftvae_main(argv)
    except SystemExit as exc:
        return int(exc.code)


@pytest.fixture
def folder(tmp_path):
    """Six images: five small lattices (npy) and one corrupt file with an image suffix."""
    images = tmp_path / "images"
    images.mkdir()
    for i in range(5):
        data = sv.synthetic.lattice_image(size=64, period=8.0 + i, seed=i)
        np.save(images / f"scan{i}.npy", data)
    (images / "scan9.npy").write_bytes(b"\x93NUMPY this is not an array")
    (images / "notes.txt").write_text("not an image")  # not an image suffix: ignored
    return images


def test_a_batch_on_two_workers_records_the_corrupt_file_and_resumes_without_training(
    tmp_path, folder
):
    out = tmp_path / "out"
    records = fit_many([folder], CONFIG, out, workers=2, processes=False, progress=False)
    assert [r["status"] for r in records] == ["ok"] * 5 + ["failed"]
    assert "scan9.npy" in records[-1]["image"] and records[-1]["error"]
    for r in records[:5]:
        run = out / "runs" / r["folder"]
        assert (run / "results.h5").is_file() and (run / "model.pt").is_file()
        assert r["physicality"] > 0 and r["window"] == 16
    with open(out / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [row["status"] for row in rows] == ["ok"] * 5 + ["failed"]
    assert rows[0]["image"].endswith("scan0.npy") and rows[-1]["error"]
    # run again: the five fitted images are kept as they are, only the failed one is retried
    stamps = {
        r["folder"]: (out / "runs" / r["folder"] / "model.pt").stat().st_mtime_ns
        for r in records[:5]
    }
    time.sleep(0.01)
    again = fit_many([folder], CONFIG, out, workers=2, processes=False, progress=False)
    assert [r["status"] for r in again] == ["ok"] * 5 + ["failed"]
    for name, stamp in stamps.items():
        assert (out / "runs" / name / "model.pt").stat().st_mtime_ns == stamp


class _Refuses:
    """An executor that refuses work: proves that nothing is submitted."""

    def submit(self, *args, **kwargs):
        raise AssertionError("nothing should be trained")


def test_a_finished_batch_submits_nothing(tmp_path, folder):
    out = tmp_path / "out"
    images = sorted(folder.glob("scan[0-4].npy"))
    fit_many(images, CONFIG, out, workers=1, processes=False, progress=False)
    records = fit_many(images, CONFIG, out, executor=_Refuses(), progress=False)
    assert all(r["status"] == "ok" for r in records)
    with pytest.raises(AssertionError, match="nothing should be trained"):  # other options
        fit_many(images, FitConfig(**{**CONFIG.as_dict(), "beta_end": 2.0}), out,
                 executor=_Refuses(), progress=False)  # fmt: skip


def test_batch_inputs_are_checked_before_anything_runs(tmp_path, folder):
    assert len(batch_images([folder])) == 6
    assert len(batch_images([str(folder / "scan[0-2].npy")])) == 3
    with pytest.raises(sv.InputError, match="no file matches"):
        batch_images([str(folder / "*.dm3")])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(sv.InputError, match="holds no image file"):
        batch_images([empty])
    with pytest.raises(sv.InputError, match="does not exist"):
        batch_images([tmp_path / "missing.tif"])


def test_cli_fit_many(tmp_path, folder, monkeypatch, capsys):
    import shiftvae.runs.executors

    monkeypatch.setattr(shiftvae.runs.executors, "LOCAL_PROCESSES", False)
    out = tmp_path / "night"
    args = ["fit-many", str(folder), "--out", str(out), "--epochs", "2", "--window", "16",
            "--step", "8", "--lattice", "none", "--phases", "none", "--workers", "2"]  # fmt: skip
    assert cli(args) == 0
    assert (out / "summary.csv").is_file() and len(list((out / "runs").glob("*/results.h5"))) == 5
    assert "1 failed" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = tmp_path / "bad"
    assert cli(["fit-many", str(empty), "--out", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds no image file" in err[0] and not bad.exists()


def test_a_busy_dashboard_port_does_not_stop_a_local_cluster(tmp_path, folder):
    """Another Dask cluster (or anything) on port 8787: the local cluster takes a free port
    (it failed with "Port 8787 is already in use", a warning the test settings make fatal)."""
    import socket

    with socket.socket() as busy:
        try:
            busy.bind(("", 8787))
            busy.listen()
        except OSError:
            pass  # already taken: the situation under test
        records = fit_many(
            [folder / "scan0.npy"], CONFIG, tmp_path / "out", workers=1, processes=False,
            progress=False,
        )  # fmt: skip
    assert [r["status"] for r in records] == ["ok"]
