"""``shiftvae fit``: one sentence and exit code 2 for every bad input, and one full run."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import tifffile

import shiftvae as sv
from shiftvae.cli import main
from shiftvae.errors import InputError


@pytest.fixture
def lattice_npy(tmp_path):
    """A 48 x 48 lattice image (period 8 px) saved as .npy."""
    path = tmp_path / "lattice.npy"
    np.save(path, sv.synthetic.lattice_image(48, period=8.0, seed=1))
    return path


def run(argv):
    """Exit code of ``main``, whether it returns or argparse exits."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def assert_refused(tmp_path, capsys, image, match, *options):
    """``fit`` exits 2 with one line on stderr matching ``match``, and writes nothing."""
    out = tmp_path / "out"
    assert run(["fit", str(image), "--out", str(out), "--epochs", "1", *options]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0] and re.search(match, err[0]), err[0]
    assert not out.exists() and not list(tmp_path.glob(".*partial"))


def test_missing_file(tmp_path, capsys):
    assert_refused(
        tmp_path, capsys, tmp_path / "nope.tif", r"fit: error: .*nope\.tif does not exist"
    )


def test_unknown_format(tmp_path, capsys):
    (tmp_path / "scan.xyz").write_bytes(b"1234")
    assert_refused(tmp_path, capsys, tmp_path / "scan.xyz", r"unknown image format '\.xyz'")


def test_corrupt_file(tmp_path, capsys):
    (tmp_path / "scan.tif").write_bytes(b"not a tiff at all" * 10)
    assert_refused(tmp_path, capsys, tmp_path / "scan.tif", r"cannot read .*scan\.tif as TIFF")


def test_nan_pixels_are_refused_and_fill_nan_repairs_them(tmp_path, capsys, monkeypatch):
    data = sv.synthetic.lattice_image(48, period=8.0, seed=1)
    data[3, 4] = data[10, :2] = np.nan
    np.save(tmp_path / "holes.npy", data)
    assert_refused(tmp_path, capsys, tmp_path / "holes.npy", r"3 NaN .*--fill-nan")

    seen = {}

    def stop(image, config, **kwargs):  # stands in for training: look at what arrived
        seen["data"] = image.data
        raise InputError("stopped after reading")

    monkeypatch.setattr("shiftvae.commands.fit.fit_image", stop)
    assert_refused(tmp_path, capsys, tmp_path / "holes.npy", "stopped after", "--fill-nan", "-q")
    assert np.isfinite(seen["data"]).all()
    assert seen["data"][3, 4] == pytest.approx(np.nanmedian(data))


def test_constant_image(tmp_path, capsys):
    np.save(tmp_path / "flat.npy", np.full((48, 48), 7.0))
    assert_refused(tmp_path, capsys, tmp_path / "flat.npy", r"constant image \(every pixel is 7\)")


def test_image_smaller_than_the_window(tmp_path, capsys, rng):
    np.save(tmp_path / "small.npy", rng.random((12, 12)))
    assert_refused(
        tmp_path,
        capsys,
        tmp_path / "small.npy",
        "12 x 12 px is smaller than the window of 16",
        "--window",
        "16",
    )


def test_rgb_tif_needs_index(tmp_path, capsys, rng):
    rgb = (rng.random((48, 48, 3)) * 255).astype(np.uint8)
    tifffile.imwrite(tmp_path / "colour.tif", rgb, photometric="rgb")
    assert_refused(tmp_path, capsys, tmp_path / "colour.tif", r"RGB colour image .*--index")


def test_stack_needs_index(tmp_path, capsys, rng):
    np.save(tmp_path / "stack.npy", rng.random((5, 48, 48)))
    assert_refused(tmp_path, capsys, tmp_path / "stack.npy", r"stack of 5 images.*--index")
    assert_refused(
        tmp_path, capsys, tmp_path / "stack.npy", "index 9 is out of range", "--index", "9"
    )


def test_window_zero_is_a_usage_error(tmp_path, capsys, lattice_npy):
    assert_refused(
        tmp_path,
        capsys,
        lattice_npy,
        "must be 'auto' or a positive integer, got '0'",
        "--window",
        "0",
    )


def test_step_that_leaves_one_patch(tmp_path, capsys, lattice_npy):
    assert_refused(
        tmp_path,
        capsys,
        lattice_npy,
        "only 1 patch fits .*smaller window or step",
        "--window",
        "16",
        "--step",
        "40",
    )


def test_shift_scale_out_of_range(tmp_path, capsys, lattice_npy):
    assert_refused(
        tmp_path,
        capsys,
        lattice_npy,
        r"--shift-scale must be in \(0, 1\], got '1.5'",
        "--shift-scale",
        "1.5",
    )


def test_fit_end_to_end_writes_every_output(tmp_path):
    image = tmp_path / "lattice.tif"
    data = sv.synthetic.lattice_image(48, period=8.0, seed=1)
    tifffile.imwrite(image, data, imagej=True, resolution=(50.0, 50.0), metadata={"unit": "nm"})
    out = tmp_path / "run"
    argv = ["fit", str(image), "--out", str(out), "--epochs", "2", "--window", "16"]
    argv += ["--step", "8", "-q"]
    assert main(argv) == 0
    for name in ("results.h5", "model.pt", "report.html", "run.json"):
        assert (out / name).is_file(), name
    assert list((out / "figures").glob("*.png"))
    assert not list(tmp_path.glob(".*partial"))
    res = sv.load_results(out)
    assert res.maps.z.shape == (2, 5, 5) and res.maps.shift.shape == (2, 5, 5)
    assert res.maps.pixel_size == pytest.approx(0.02) and res.maps.unit == "nm"
    assert len(res.history["loss"]) == 2 and np.isfinite(res.history["loss"]).all()
    assert json.loads((out / "run.json").read_text())["seed"] == 0


def test_the_top_level_help_is_plain_text_and_fit_takes_a_series(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert "``" not in out and ":mod:" not in out
    assert "shiftvae fit IMAGE --out DIR" in out
    assert "on one image" not in out and "series" in out
