"""Many images, one model (sv.fit_images), and transfer to a frame of the series."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from PIL import Image

import shiftvae as sv
from shiftvae.cli import main

QUICK = {"epochs": 2, "hidden": (16, 16), "phases": None}


@pytest.fixture(scope="module")
def frames():
    """Three frames of a growing B/A ratio field; the last one drifted by a few pixels."""
    out = []
    for t, a in enumerate((0.0, 0.1, 0.2)):
        img, _ = sv.synthetic.intensity_ratio_crystal(
            size=256, cell=24.0, ratio_range=(0.55 - a, 0.55 + a), seed=0
        )
        out.append(np.roll(img, (3 * t, 2 * t), axis=(0, 1)))
    return np.stack(out)


@pytest.fixture(scope="module")
def series(frames):
    return sv.fit_images(frames, sv.FitConfig(**QUICK), progress=False)


def test_one_model_maps_every_frame(series, frames):
    assert len(series) == 3 and all(r.model is series.model for r in series.results)
    assert series[0].geometry["centers"] == "atoms"
    assert [r.image.source for r in series.results] == ["frame 0", "frame 1", "frame 2"]
    shapes = {r.patches.data.shape[1:] for r in series.results}
    assert shapes == {tuple(series.model.data_shape)}
    origins = [tuple(r.geometry["lattice"]["origin"]) for r in series.results]
    assert len(set(origins)) == 3  # each frame's own lattice origin (drift)
    for r in series.results:
        assert np.isfinite(r.maps.z).all() and r.geometry["epochs"] == 2


def test_transfer_to_a_frame_gives_its_latents_in_the_series(series, frames):
    again = sv.transfer_image(series.model, frames[2])
    np.testing.assert_array_equal(again.patches.centers, series[2].patches.centers)
    np.testing.assert_allclose(again.encoding.z_mean, series[2].encoding.z_mean, atol=1e-6)


def test_bad_series_inputs(frames):
    with pytest.raises(sv.InputError, match="no images were given"):
        sv.fit_images([], sv.FitConfig(**QUICK), progress=False)
    with pytest.raises(sv.InputError, match="for one image use fit_image"):
        sv.fit_images(frames[0], sv.FitConfig(**QUICK), progress=False)
    a = sv.Image(frames[0], 0.02, "nm", "a.tif")
    b = sv.Image(frames[1], 0.03, "nm", "b.tif")
    with pytest.raises(sv.InputError, match="resample them to one pixel size"):
        sv.fit_images([a, b], sv.FitConfig(**QUICK), progress=False)
    other, _ = sv.synthetic.intensity_ratio_crystal(size=256, cell=30.0, seed=1)
    with pytest.raises(sv.InputError, match="differs from that of the first image"):
        sv.fit_images([frames[0], other], sv.FitConfig(**QUICK), progress=False)
    for key in ("labels", "values"):  # once silently ignored by a series
        config = sv.FitConfig(**QUICK, **{key: "known.csv"}, classes=2)
        with pytest.raises(sv.InputError, match=f"--{key} names cells of one image"):
            sv.fit_images(frames, config, progress=False)


def test_cli_fit_several_images_writes_one_series_folder(frames, tmp_path, capsys):
    paths = []
    for i, frame in enumerate(frames):
        paths.append(tmp_path / f"t{i}.npy")
        np.save(paths[-1], frame)
    out = tmp_path / "series"
    argv = ["fit", *map(str, paths), "--epochs", "2", "--phases", "none", "-q"]
    assert main([*argv, "--out", str(out)]) == 0
    summary = json.loads((out / "series.json").read_text())
    assert [row["folder"] for row in summary["images"]] == ["01_t0", "02_t1", "03_t2"]
    assert (out / "series_latents.png").is_file() and (out / "report.html").is_file()
    with h5py.File(out / "series.h5") as f:  # one NXentry per image, complete, shared model
        assert f.attrs["complete"] and f.attrs["model"] == "model.pt"
        assert sorted(f) == ["01_t0", "02_t1", "03_t2"]
        assert f["02_t1"].attrs["NX_class"] == "NXentry"
        z2 = f["02_t1/latent_maps/z"][()]
    np.testing.assert_allclose(z2, sv.load_results(out / "02_t1").maps.z)
    with Image.open(out / "series_maps.gif") as movie:
        assert movie.n_frames == 3
    with Image.open(out / "series_maps.png") as grid:
        assert grid.size[1] > grid.size[0] / 2  # three rows of maps
    stored = sv.load_results(out / "03_t2").encoding.z_mean
    again = sv.transfer_image(out / "model.pt", paths[2]).encoding.z_mean  # the shared model
    np.testing.assert_allclose(again, stored, atol=1e-5)
    code = main([*argv, "--out", str(tmp_path / "x"), "--resume"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "give one image" in err[0]
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("order, signs", [((0, 1), (1, -1)), ((1, 0), (1, 1)), ((1, 0), (-1, 1))])
def test_a_lattice_found_with_a_reversed_or_swapped_vector_is_the_same_lattice(
    monkeypatch, order, signs
):
    """The estimate may return (a1, -a2) or (a2, a1) for the next frame: the same lattice,
    which must not stop a series (found on the two halves of the perovskite image)."""
    import shiftvae.pipeline.geometry as geometry
    from shiftvae.lattice.estimate import Lattice

    trained = Lattice(np.array([[29.47, 0.28], [-0.12, 41.94]]), np.array([3.0, 4.0]), 0.9)
    found = Lattice(
        trained.vectors[list(order)] * np.array(signs)[:, None], np.array([5.0, 6.0]), 0.9
    )
    monkeypatch.setattr(geometry, "estimate_lattice", lambda image: found)
    image = sv.Image(np.zeros((64, 64), np.float32), None, "px", "frame 1")
    placed = geometry.relocate_lattice(image, trained.as_dict())
    np.testing.assert_allclose(placed.vectors, trained.vectors)  # the model's vectors ...
    np.testing.assert_allclose(placed.origin, [5.0, 6.0])  # ... at the frame's origin
    longer = Lattice(trained.vectors * 1.1, np.zeros(2), 0.9)
    monkeypatch.setattr(geometry, "estimate_lattice", lambda image: longer)
    with pytest.raises(sv.InputError, match="differs"):
        geometry.relocate_lattice(image, trained.as_dict())


def test_transfer_refuses_a_model_whose_patches_do_not_match(tmp_path, frames, capsys):
    """A model whose stored geometry gives patches of another size than it takes."""
    model = sv.ShiftVAE((20, 20), decoder="canvas", seed=0)
    model.fit(np.random.default_rng(0).random((50, 20, 20)).astype(np.float32), epochs=1,
              progress=False)  # fmt: skip
    model.metadata.update(
        {"window": 32, "step": 16, "binning": 1, "epochs": 1, "coord_frequency": None,
         "lattice": None, "position": "gaussian", "decoder": "canvas", "encoder": "mlp",
         "centers": "grid", "config": sv.FitConfig(**QUICK).as_dict()}
    )  # fmt: skip
    model.save(tmp_path / "model.pt")
    np.save(tmp_path / "new.npy", frames[0])
    out = tmp_path / "new"
    code = main(["fit", str(tmp_path / "new.npy"), "--out", str(out), "--transfer",
                 str(tmp_path / "model.pt"), "-q"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and not out.exists()
    assert len(err) == 1 and "takes patches of (20, 20) px" in err[0]
