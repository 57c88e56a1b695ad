"""Defaults that ``fit_image`` derives from the image: decoder frequency and epochs."""

from __future__ import annotations

import numpy as np
import pytest

import shiftvae as sv
from shiftvae.cli import main
from shiftvae.pipeline.fit import (
    AUTO_EPOCHS,
    AUTO_STEPS,
    FitConfig,
    auto_epochs,
    resolve_geometry,
)


@pytest.fixture(scope="module")
def lattice_image() -> sv.Image:
    return sv.Image(sv.synthetic.lattice_image(96, period=8.0, seed=2), 0.05, "nm")


@pytest.mark.parametrize("n", [1, 7, 99, 100, 101, 1638, 4356, 25_000, 10**6])
@pytest.mark.parametrize("batch", [1, 32, 100, 512])
def test_auto_epochs_gives_enough_steps_within_bounds(n, batch):
    epochs = auto_epochs(n, batch)
    low, high = AUTO_EPOCHS
    assert low <= epochs <= high
    steps = epochs * -(-n // batch)
    if epochs < high:
        assert steps >= AUTO_STEPS  # enough updates ...
    if epochs > low:
        assert (epochs - 1) * -(-n // batch) < AUTO_STEPS  # ... and not more than needed


def test_auto_coord_frequency_is_twice_the_periods_per_window(lattice_image):
    geo = resolve_geometry(lattice_image, FitConfig(window=24))
    assert geo["coord_frequency"] == pytest.approx(2 * 24 / 8.0, rel=0.03)
    geo = resolve_geometry(lattice_image, FitConfig())  # window of about 2.5 periods
    assert geo["coord_frequency"] == pytest.approx(2 * geo["window"] / geo["period_px"], 1e-3)
    assert (
        resolve_geometry(lattice_image, FitConfig(coord_frequency=None))["coord_frequency"] is None
    )
    assert resolve_geometry(lattice_image, FitConfig(coord_frequency=3.5))["coord_frequency"] == 3.5


def test_auto_coord_frequency_without_a_lattice_uses_the_default_window_ratio(rng):
    noise = sv.Image(rng.random((64, 64)).astype(np.float32))
    geo = resolve_geometry(noise, FitConfig(window=16, step=8))
    assert geo["coord_frequency"] == pytest.approx(5.0)  # 2 x 2.5 periods


def test_fit_image_builds_the_resolved_decoder_and_epochs(lattice_image):
    config = FitConfig(window=16, step=8, batch_size=50, phases=None, device="cpu")
    small = FitConfig(**{**config.as_dict(), "epochs": 2})
    result = sv.fit_image(lattice_image, small, progress=False)
    assert result.model.config.coord_frequency == pytest.approx(4.0, rel=0.03)
    assert len(result.model.history_) == 2 and result.geometry["epochs"] == 2
    # "auto" epochs: 121 patches in batches of 50 -> 3 steps per epoch -> 834 epochs > 400
    n = len(result.patches)
    assert auto_epochs(n, 50) == AUTO_EPOCHS[1]
    tanh = sv.fit_image(
        lattice_image, FitConfig(**{**small.as_dict(), "coord_frequency": None}), progress=False
    )
    assert tanh.model.config.coord_frequency is None
    assert tanh.model.metadata["coord_frequency"] is None


@pytest.mark.parametrize(
    ("flag", "value", "phrase"),
    [
        ("--coord-frequency", "0", "--coord-frequency must be 'auto', 'none' or a positive"),
        ("--coord-frequency", "nan", "--coord-frequency must be"),
        ("--coord-frequency", "fast", "--coord-frequency must be"),
        ("--epochs", "none", "--epochs must be 'auto' or a positive integer"),
        ("--epochs", "2.5", "--epochs must be 'auto' or a positive integer"),
    ],
)
def test_bad_auto_options_are_usage_errors(tmp_path, capsys, flag, value, phrase):
    image = tmp_path / "img.npy"
    np.save(image, sv.synthetic.lattice_image(48, period=8.0, seed=1))
    with pytest.raises(SystemExit) as exc:
        main(["fit", str(image), "--out", str(tmp_path / "out"), flag, value])
    assert exc.value.code == 2
    assert phrase in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_takes_none_for_the_paper_decoder(tmp_path):
    image = tmp_path / "img.npy"
    np.save(image, sv.synthetic.lattice_image(48, period=8.0, seed=1))
    out = tmp_path / "out"
    argv = ["fit", str(image), "--out", str(out), "--window", "16", "--step", "8"]
    argv += ["--epochs", "1", "--coord-frequency", "none", "--phases", "none", "-q"]
    assert main(argv) == 0
    model = sv.load_model(out / "model.pt")
    assert model.config.coord_frequency is None
    assert "tanh" in (out / "report.html").read_text()


def test_fit_image_takes_an_array_or_a_path(tmp_path):
    """A plain 2D array (as most users hold an image) and a file path are accepted."""
    image = sv.synthetic.lattice_image(size=96, period=8.0, seed=1)
    config = sv.FitConfig(window=16, epochs=1, hidden=(8, 8), lattice=None)
    result = sv.fit_image(image, config, progress=False)
    assert result.image.source == "array" and result.image.pixel_size is None
    np.save(tmp_path / "img.npy", image)
    assert sv.fit_image(tmp_path / "img.npy", config, progress=False).maps.z.shape[0] == 2
    with pytest.raises(sv.InputError, match="2D"):
        sv.fit_image(np.zeros((4, 4, 4, 4)), config, progress=False)
    with pytest.raises(sv.InputError, match="a 2D array or a file path"):
        sv.fit_image(42, config, progress=False)
