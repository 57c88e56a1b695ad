"""fit --classes: the class map of an image, its outputs, labels, transfer and predict."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

import shiftvae as sv
from shiftvae.cli import main
from shiftvae.synthetic.class_crystals import interface_phases


@pytest.fixture(scope="module")
def interface():
    """Two phases at a curved interface, fitted with two classes (defaults otherwise)."""
    image, truth = interface_phases(size=256, seed=0)
    fit = sv.fit_image(image, sv.FitConfig(classes=2), progress=False)
    return image, truth, fit


def test_the_classes_find_the_two_phases(interface):
    _, truth, fit = interface
    cells = truth.classes(fit.patches.centers)
    found = fit.encoding.classes
    assert adjusted_rand_score(cells, found) > 0.85  # measured 0.93 (this image)
    assert fit.maps.class_probs.shape == (2, *fit.patches.grid_shape)
    np.testing.assert_allclose(fit.maps.class_probs.sum(0), 1.0, atol=1e-6)
    summary = fit.metrics["classes"]
    assert sum(summary["counts"]) == len(found) and summary["boundary_cells"] > 0


def test_predict_on_the_training_image_gives_the_fits_classes(interface, tmp_path):
    image, _, fit = interface
    path = fit.model.save(tmp_path / "model.pt")
    for model in (fit.model, path):
        found = sv.predict(model, image)
        np.testing.assert_array_equal(found.classes, fit.maps.classes)
        np.testing.assert_allclose(found.probabilities, fit.maps.class_probs, atol=1e-5)
    other, _ = interface_phases(size=256, seed=1)
    moved = sv.predict(path, other)  # a new image: classes without training
    assert moved.classes.shape == moved.probabilities.shape[1:]
    assert set(np.unique(moved.classes)) == {0, 1}


def test_predict_needs_a_model_with_classes(interface):
    image, _, _ = interface
    plain = sv.fit_image(image, sv.FitConfig(epochs=1, hidden=(8, 8)), progress=False)
    with pytest.raises(sv.InputError, match="no classes"):
        sv.predict(plain.model, image)


def test_the_class_map_is_written_and_read_back(interface, tmp_path):
    _, _, fit = interface
    out = sv.save_results(fit, tmp_path / "run")
    with h5py.File(out / "results.h5") as f:
        g = f["entry/class_map"]
        np.testing.assert_array_equal(g["classes"][()], fit.maps.classes)
        assert g["probabilities"].shape == fit.maps.class_probs.shape
        assert json.loads(g.attrs["counts"]) == fit.metrics["classes"]["counts"]
        assert g["boundaries"][()].sum() == fit.metrics["classes"]["boundary_cells"]
    back = sv.load_results(out / "results.h5")
    np.testing.assert_array_equal(back.maps.classes, fit.maps.classes)
    header = (out / "columns.csv").read_text().splitlines()[0].split(",")
    assert {"z1", "z2", "class", "class_probability"} <= set(header)
    assert (out / "figures" / "classes.png").is_file()
    assert (out / "figures" / "class_motifs.png").is_file()
    assert "classes (cells per class)" in (out / "report.html").read_text()


def test_labels_from_a_csv_name_the_classes(tmp_path):
    image, truth = interface_phases(size=256, seed=0)
    tif = tmp_path / "scan.npy"
    np.save(tif, image)
    rng = np.random.default_rng(0)
    points = rng.uniform(20, 236, (400, 2))
    kinds = truth.classes(points)
    rows = ["row,col,class"]
    for kind in (0, 1):  # the truth's phase 1 named class 0 and phase 0 class 1
        for p in points[kinds == kind][:5]:
            rows.append(f"{p[0]:.1f},{p[1]:.1f},{1 - kind}")
    labels = tmp_path / "labels.csv"
    labels.write_text("\n".join(rows) + "\n")
    out = tmp_path / "run"
    argv = ["fit", str(tif), "--out", str(out), "--classes", "2", "--labels", str(labels), "-q"]
    assert main(argv) == 0
    found = sv.load_results(out / "results.h5")
    cells = truth.classes(found.maps.centers.reshape(-1, 2))
    assert (found.maps.classes.ravel() == 1 - cells).mean() > 0.9


def test_bad_labels_stop_the_fit_in_one_sentence(tmp_path, capsys):
    image, _ = interface_phases(size=128, seed=0)
    npy = tmp_path / "scan.npy"
    np.save(npy, image)
    labels = tmp_path / "labels.csv"
    labels.write_text("row,col,class\n10,10,5\n")
    out = tmp_path / "run"
    assert main(["fit", str(npy), "--out", str(out), "--labels", str(labels), "-q"]) == 2
    assert "--labels gives known classes: it needs --classes K" in capsys.readouterr().err
    argv = ["fit", str(npy), "--out", str(out), "--classes", "2", "--labels", str(labels), "-q"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "has class 5: classes are 0 to 1" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    labels.write_text("row,col,class\n10,10,0\n5000,10,1\n")
    assert main(argv) == 2
    assert "is not on any patch" in capsys.readouterr().err


def test_auto_chooses_the_two_phases_of_the_interface():
    image, truth = interface_phases(size=256, seed=0)
    fit = sv.fit_image(image, sv.FitConfig(classes="auto"), progress=False)
    assert fit.model.config.auto_classes and fit.maps.class_probs.shape[0] == 2
    cells = truth.classes(fit.patches.centers)
    assert adjusted_rand_score(cells, fit.encoding.classes) > 0.85
