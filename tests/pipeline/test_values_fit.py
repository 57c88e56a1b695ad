"""fit --values: a property measured at a few cells, predicted in every cell."""

from __future__ import annotations

import json
import re

import h5py
import numpy as np
import pytest
from scipy.stats import spearmanr

import shiftvae as sv
from shiftvae.cli import main
from shiftvae.synthetic.crystal_scene import Microscope
from shiftvae.synthetic.crystals import intensity_ratio_crystal


@pytest.fixture(scope="module")
def ratio_fit(tmp_path_factory):
    """The B/A ratio field measured at 10 cells, and the fit of the image with them."""
    tmp = tmp_path_factory.mktemp("values")
    image, truth = intensity_ratio_crystal(size=256, seed=0)
    npy = tmp / "scan.npy"
    np.save(npy, image)
    points = np.random.default_rng(0).uniform(30, 226, (10, 2))
    rows = [f"{c:.1f},{r:.1f},{v:.4f}," for (r, c), v in zip(points, truth.field(points))]
    rows[0] += "1.5"  # a second property, measured at one place only
    csv = tmp / "values.csv"
    csv.write_text("x,y,ratio,thickness_nm\n" + "\n".join(rows) + "\n")
    out = tmp / "run"
    assert main(["fit", str(npy), "--out", str(out), "--values", str(csv), "-q"]) == 0
    return image, truth, out


def test_the_property_follows_the_truth_with_honest_error_bars(ratio_fit):
    _, truth, out = ratio_fit
    found = sv.load_results(out / "results.h5")
    maps = found.maps
    assert maps.value_names == ("ratio", "thickness_nm")
    ratio, std = maps.values[0].ravel(), maps.value_std[0].ravel()
    field = truth.field(maps.centers.reshape(-1, 2))
    assert spearmanr(ratio, field)[0] > 0.9  # measured 0.99
    assert np.sqrt(np.mean((ratio - field) ** 2)) < 0.5 * field.std()
    assert np.mean(np.abs(ratio - field) <= 2 * std) > 0.8
    np.testing.assert_allclose(maps.values[1], 1.5, atol=1e-3)  # one value: a constant


def test_the_properties_are_in_every_output(ratio_fit):
    _, _, out = ratio_fit
    with h5py.File(out / "results.h5") as f:
        g = f["entry/property_maps"]
        assert json.loads(g.attrs["names"]) == ["ratio", "thickness_nm"]
        assert g["values"].shape == g["std"].shape and g["values"].shape[0] == 2
        assert f["entry/encoding/values"].shape[1] == 2
    metrics = json.loads((out / "run.json").read_text())["metrics"]
    assert set(metrics["properties"]) == {"ratio", "thickness_nm"}
    assert (out / "figures" / "property_maps.png").is_file()
    assert "each property predicted from the latents" in (out / "report.html").read_text()


def test_predict_gives_the_properties_of_a_new_image(ratio_fit):
    image, _, out = ratio_fit
    found = sv.load_results(out / "results.h5")
    same = sv.predict(out / "model.pt", image)
    np.testing.assert_allclose(same.values["ratio"], found.maps.values[0], atol=1e-4)
    assert same.classes is None and set(same.value_std) == {"ratio", "thickness_nm"}
    other, _ = intensity_ratio_crystal(size=256, microscope=Microscope(noise_level=0.12))
    assert sv.predict(out / "model.pt", other).values["ratio"].shape == same.latents.shape[1:]


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("row,col\n10,10\n", "names no property"),
        ("row,col,t\n10,10,thin\n", "line 2 of .* has t 'thin': a number, or blank"),
        ("row,col,t\n10,10,\n", "gives no value of t"),
        ("row,col,t\n9000,10,1\n", "value 1 in .* is not on any patch"),
    ],
)
def test_a_bad_values_file_stops_the_fit_in_one_sentence(tmp_path, capsys, text, phrase):
    image, _ = intensity_ratio_crystal(size=128, seed=0)
    npy = tmp_path / "scan.npy"
    np.save(npy, image)
    csv = tmp_path / "values.csv"
    csv.write_text(text)
    out = tmp_path / "run"
    assert main(["fit", str(npy), "--out", str(out), "--values", str(csv), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1

    assert re.search(phrase, err)
    assert not out.exists()
