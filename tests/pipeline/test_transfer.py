"""Encoding new images with a trained model (fit --transfer, sv.transfer_image)."""

from __future__ import annotations

import numpy as np
import pytest

import shiftvae as sv
from shiftvae.cli import main


@pytest.fixture(scope="module")
def crystal_fit():
    """A fit with the default lattice model and patches on the atom columns."""
    img, _ = sv.synthetic.intensity_ratio_crystal(size=256, cell=24.0, seed=0)
    config = sv.FitConfig(epochs=2, hidden=(16, 16), phases=None)
    return img, sv.fit_image(img, config, progress=False)


def test_transfer_on_the_training_image_gives_the_fits_latents(crystal_fit, tmp_path):
    img, fit = crystal_fit
    assert fit.geometry["centers"] == "atoms"
    path = fit.model.save(tmp_path / "model.pt")
    for model in (fit.model, path):
        again = sv.transfer_image(model, img)
        again.model.module_.to(fit.model.device)
        np.testing.assert_array_equal(again.patches.centers, fit.patches.centers)
        np.testing.assert_allclose(again.encoding.z_mean, fit.encoding.z_mean, atol=1e-6)
        np.testing.assert_allclose(again.maps.z, fit.maps.z, atol=1e-6)
    assert again.timings["train"] == 0.0 and again.geometry["transfer"]


def test_transfer_to_a_moved_frame_follows_its_lattice(crystal_fit):
    img, fit = crystal_fit
    moved = np.roll(img, (5, 3), axis=(0, 1))  # the next frame of a drifting series
    result = sv.transfer_image(fit.model, moved)
    assert result.patches.data.shape[1:] == fit.patches.data.shape[1:]
    shift = result.geometry["lattice"]["origin"]
    assert not np.allclose(shift, fit.geometry["lattice"]["origin"])
    assert np.isfinite(result.maps.z).all()


def test_transfer_refuses_what_it_cannot_encode(crystal_fit, tmp_path):
    img, fit = crystal_fit
    other, _ = sv.synthetic.intensity_ratio_crystal(size=256, cell=30.0, seed=1)
    with pytest.raises(sv.InputError, match="differs from the model's"):
        sv.transfer_image(fit.model, other)
    bare = sv.ShiftVAE((16, 16))
    with pytest.raises(sv.InputError, match="carries no image geometry"):
        sv.transfer_image(bare, img)


def test_cli_fit_transfer_writes_the_folder_without_training(crystal_fit, tmp_path, capsys):
    img, fit = crystal_fit
    model = fit.model.save(tmp_path / "model.pt")
    np.save(tmp_path / "frame.npy", img)
    out = tmp_path / "frame"
    assert (
        main(
            ["fit", str(tmp_path / "frame.npy"), "--out", str(out), "--transfer", str(model), "-q"]
        )
        == 0
    )
    res = sv.load_results(out)
    np.testing.assert_allclose(res.maps.z, fit.maps.z, atol=1e-5)
    code = main(
        [
            "fit",
            str(tmp_path / "frame.npy"),
            "--out",
            str(tmp_path / "x"),
            "--transfer",
            str(tmp_path / "missing.pt"),
            "-q",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "does not exist" in err[0]
    assert not (tmp_path / "x").exists()
