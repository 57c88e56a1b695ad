"""``fit_image`` and ``shiftvae fit`` with the lattice: found, given, absent or refused."""

from __future__ import annotations

import importlib.util
import logging

import h5py
import numpy as np
import pytest

import shiftvae as sv
import shiftvae.pipeline.fit
from shiftvae.analysis.columns import displacement_errors
from shiftvae.cli import main
from shiftvae.pipeline.fit import NO_LATTICE_WINDOW, FitConfig, fit_image, resolve_geometry

QUICK = {"epochs": 3, "phases": None, "device": "cpu"}


@pytest.fixture(scope="module")
def crystal():
    """A small two-sublattice crystal (cell 20 px) with a smooth B/A ratio field."""
    img, truth = sv.synthetic.intensity_ratio_crystal(size=160, cell=20.0, seed=1)
    return sv.Image(img, None, "px", "crystal"), truth


def test_defaults_find_the_lattice_and_use_the_torus_and_the_lattice_coder(crystal, tmp_path):
    image, _ = crystal
    result = fit_image(image, FitConfig(**QUICK), progress=False)
    geo = result.geometry
    assert (geo["position"], geo["decoder"], geo["encoder"]) == ("torus", "lattice", "lattice")
    assert np.allclose(sorted(geo["lattice"]["periods"]), [20, 20], rtol=0.02)
    assert geo["window"] == 30 and geo["binning"] == 1  # 1.5 cells, every pixel kept
    # shifts are the shortest move in the cell; the phase maps give the position in it
    frac = result.encoding.shift_mean @ np.linalg.inv(geo["lattice"]["vectors"])
    assert np.abs(frac).max() <= 0.5 + 1e-6
    assert result.maps.lattice_phase.shape == (2, *result.maps.z.shape[1:])
    # relative to one perfect lattice the phase is nearly flat (the raw position in each
    # patch runs through the whole cell: the grid-lattice beating)
    flatness = np.abs(np.exp(1j * result.maps.lattice_phase).mean(axis=(1, 2)))
    assert flatness.min() > 0.8, flatness
    raw = np.abs(np.exp(1j * result.encoding.phase_mean).mean(axis=0))
    assert raw.max() < 0.5, raw
    sv.save_results(result, tmp_path / "run")
    back = sv.load_results(tmp_path / "run")
    np.testing.assert_allclose(back.maps.lattice_phase, result.maps.lattice_phase, atol=1e-6)
    np.testing.assert_array_equal(back.encoding.phase_mean, result.encoding.phase_mean)
    assert back.geometry["lattice"]["periods"] == geo["lattice"]["periods"]
    assert "position in the unit cell" in (tmp_path / "run" / "report.html").read_text()
    # the latent maps averaged over neighbouring cells, with widths in px and error bars
    maps = result.maps
    assert maps.z_smooth.shape == maps.z_smooth_std.shape == maps.z.shape
    assert len(maps.smoothing_px) == len(maps.z) and min(maps.smoothing_px) >= 0.5 * 20 - 1e-6
    assert np.all(maps.z_smooth_std > 0) and np.all(np.isfinite(maps.z_smooth))
    np.testing.assert_allclose(back.maps.z_smooth, maps.z_smooth, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(back.maps.z_smooth_std, maps.z_smooth_std, rtol=1e-6)
    assert back.maps.smoothing_px == maps.smoothing_px
    assert result.metrics["smoothed"]["smoothing_px"] == list(maps.smoothing_px)
    assert "averaged over neighbouring cells" in (tmp_path / "run" / "report.html").read_text()
    # strain and rotation by GPA: a crystal with no strain reads (nearly) none, in % and deg
    strain = result.strain
    assert strain.exx.shape == image.data.shape and strain.clear.any()
    assert result.metrics["strain"]["exx_p99_abs"] < 2.0  # percent, noisy 8 x 8 cells
    np.testing.assert_allclose(back.strain.exx[back.strain.clear], strain.exx[strain.clear])
    with h5py.File(tmp_path / "run" / "results.h5") as f:
        assert f["entry/strain_maps/strain"].attrs["units"] == "%"
        assert f["entry/rotation_map/rotation"].attrs["units"] == "deg"
        assert f["entry/strain_maps/strain_std"].shape == (3, *image.data.shape)
    np.testing.assert_allclose(back.strain.errors[:, strain.clear], strain.errors[:, strain.clear])
    assert 0 < result.metrics["strain"]["exx_error_median"] < 2.0
    assert "strain (%) and rotation" in (tmp_path / "run" / "report.html").read_text()
    # the columns of both sublattices, B read from its four A, in a table and in results.h5
    assert result.metrics["columns"]["sublattices"] == 2
    table = (tmp_path / "run" / "columns.csv").read_text().splitlines()
    assert table[0].startswith("cell_i,cell_j,sublattice,row_px,col_px")
    assert {line.split(",")[2] for line in table[1:]} == {"0", "1"}
    with h5py.File(tmp_path / "run" / "results.h5") as f:
        assert f["entry/columns/displacement_site1"].attrs["units"] == "px"  # uncalibrated
        std = f["entry/columns/displacement_site1_std"][()]
        assert std.shape == f["entry/columns/displacement_site1"].shape
        assert 0 < np.nanmedian(std) < 1.0  # px: a fraction of a pixel, not nothing
    # every column with its error bar, every B with its displacement's and a verdict
    header = table[0].split(",")
    rows = [dict(zip(header, line.split(","))) for line in table[1:]]
    first_b = next(r for r in rows if r["sublattice"] == "1" and r["displacement_col_std"])
    assert float(first_b["row_std_px"]) > 0 and float(first_b["displacement_col_std"]) > 0
    assert first_b["above_noise"] in {"0", "1"}
    assert "standard error per cell" in (tmp_path / "run" / "report.html").read_text()
    # read back: the columns with their error bars, the strain as HyperSpy signals
    np.testing.assert_array_equal(back.columns.positions, result.columns.positions)
    np.testing.assert_allclose(
        displacement_errors(back.columns, back.image)[1],
        displacement_errors(result.columns, result.image)[1],
        rtol=1e-6,
    )
    if importlib.util.find_spec("hyperspy") is not None:
        strain_signal = back.to_hyperspy("strain")
        assert strain_signal.data.shape == (3, *image.data.shape)
        assert back.to_hyperspy("rotation").metadata.Signal.quantity.endswith("(deg)")
        marked = back.to_hyperspy("image")  # A and B as points, B's displacement as arrows
        assert marked.data.shape == image.data.shape and len(marked.metadata.Markers) == 3
    # what each latent does to the decoded motif's columns, in the report and run.json
    assert [m["latent"] for m in result.metrics["latent_meanings"]][:1] == ["z1"]
    assert "What each latent means" in (tmp_path / "run" / "report.html").read_text()


def test_fit_finds_a_dislocation_and_gives_its_burgers_vector_in_pm(tmp_path):
    """An edge dislocation (cell 10 px as 390 pm): in run.json, results.h5, the report."""
    data, truth = sv.synthetic.edge_dislocations(size=192, cell=10.0, cores=1, seed=4)
    image = sv.Image(data, 0.039, "nm", "dislocation")
    result = fit_image(image, FitConfig(**QUICK), progress=False)
    (record,) = result.metrics["dislocations"]
    assert record["burgers_length_pm"] == pytest.approx(390, rel=0.05)
    assert np.hypot(record["row_px"] - truth.cores[0, 0], record["col_px"] - truth.cores[0, 1]) < 15
    sv.save_results(result, tmp_path / "run")
    (back,) = sv.load_results(tmp_path / "run").strain.dislocations
    np.testing.assert_allclose(back.burgers, result.strain.dislocations[0].burgers)
    report = (tmp_path / "run" / "report.html").read_text()
    assert "dislocations (GPA phase circuits)" in report
    assert f"({record['burgers_length_pm']:.0f} pm)" in report


def test_patches_are_centred_on_column_positions_from_a_csv(crystal, tmp_path):
    """Positions found elsewhere (here the true A columns, moved by a third of a pixel):
    each lattice site goes onto the nearest one; bad files and centres refused."""
    image, truth = crystal
    given = truth.sites["A"] + 0.3
    path = tmp_path / "atoms.csv"
    path.write_text("x,y\n" + "\n".join(f"{c},{r}" for r, c in given))
    result = fit_image(image, FitConfig(**QUICK, columns=str(path)), progress=False)
    assert result.geometry["centers"] == "atoms"
    distance = np.linalg.norm(result.patches.centers[:, None] - given[None], axis=2).min(1)
    assert np.all(distance < 1e-9)  # every centre is a given position
    far = tmp_path / "far.csv"
    far.write_text("row,col\n" + "\n".join(f"{1000 + k},5" for k in range(5)))
    with pytest.raises(sv.InputError, match="lies inside the 160 x 160 px image"):
        fit_image(image, FitConfig(**QUICK, columns=str(far)), progress=False)
    with pytest.raises(sv.InputError, match="not 'grid'"):
        fit_image(image, FitConfig(**QUICK, columns=str(path), centers="grid"), progress=False)


def test_without_a_lattice_no_strain_maps_are_made_and_the_report_says_so(crystal, tmp_path):
    result = fit_image(crystal[0], FitConfig(**{**QUICK, "lattice": None}), progress=False)
    assert result.strain is None and "strain" not in result.metrics
    sv.save_results(result, tmp_path / "run")
    assert sv.load_results(tmp_path / "run").strain is None
    assert "no strain or rotation maps were made" in (tmp_path / "run" / "report.html").read_text()


def test_lattice_none_is_the_paper_model_with_the_canvas_decoder(crystal):
    geo = resolve_geometry(crystal[0], FitConfig(lattice=None))
    assert (geo["position"], geo["decoder"], geo["encoder"]) == ("gaussian", "canvas", "mlp")
    assert geo["lattice"] is None
    paper = resolve_geometry(crystal[0], FitConfig(lattice=None, decoder="coordinate"))
    assert paper["decoder"] == "coordinate" and paper["binning"] >= geo["binning"]


def test_a_given_lattice_is_used_as_given(crystal):
    vectors = ((20.0, 1.0), (-1.0, 20.0))
    geo = resolve_geometry(crystal[0], FitConfig(lattice=vectors))
    assert geo["lattice"]["vectors"] == [list(v) for v in vectors]
    assert geo["position"] == "torus"


def test_an_image_without_lattice_falls_back_with_one_warning(caplog):
    noise = np.random.default_rng(0).random((96, 96)).astype(np.float32)
    with caplog.at_level(logging.WARNING, logger="shiftvae"):
        result = fit_image(sv.Image(noise), FitConfig(**QUICK), progress=False)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "no lattice found" in warnings[0]
    assert result.geometry["window"] == min(NO_LATTICE_WINDOW, 96 // 4)
    assert result.geometry["position"] == "none" and result.maps.lattice_phase is None
    assert result.model.shift_dim == 0 and result.geometry["decoder"] == "lattice"


def test_cli_lattice_options(tmp_path, capsys):
    img, _ = sv.synthetic.two_phase_crystal(size=96, cell=16.0, seed=0)
    path = tmp_path / "c.npy"
    np.save(path, img)
    args = ["fit", str(path), "--epochs", "1", "--phases", "none", "-q"]
    assert main([*args, "--out", str(tmp_path / "a"), "--lattice", "16,0;0,16"]) == 0
    geo = sv.load_results(tmp_path / "a").geometry
    assert geo["lattice"]["vectors"] == [[16.0, 0.0], [0.0, 16.0]]
    assert main([*args, "--out", str(tmp_path / "b"), "--lattice", "none"]) == 0
    assert sv.load_results(tmp_path / "b").geometry["decoder"] == "canvas"
    with pytest.raises(SystemExit) as exc:
        main([*args, "--out", str(tmp_path / "c"), "--lattice", "16,0"])
    assert exc.value.code == 2
    assert "--lattice must be 'auto', 'none' or two vectors" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("centers", ["lattice", "atoms"])
def test_patches_on_the_lattice_or_the_columns_give_maps_over_cells(crystal, centers):
    image, truth = crystal
    result = fit_image(image, FitConfig(centers=centers, **QUICK), progress=False)
    grid = result.maps.centers  # (rows, cols, 2)
    lattice = np.asarray(result.geometry["lattice"]["vectors"])
    steps = np.concatenate([np.diff(grid, axis=a).reshape(-1, 2) for a in (0, 1)])
    assert np.allclose(np.linalg.norm(steps, axis=1), 20, atol=1.5)  # one patch per cell
    frac = (grid.reshape(-1, 2) - grid[0, 0]) @ np.linalg.inv(lattice)
    assert np.abs(frac - frac.round()).max() < (0.1 if centers == "atoms" else 1e-6)
    assert result.maps.z.shape[1:] == grid.shape[:2] == result.patches.grid_shape
    if centers == "atoms":  # centred on the bright A columns
        nearest = np.min(np.linalg.norm(grid.reshape(-1, 1, 2) - truth.sites["A"], axis=2), 1)
        assert np.median(nearest) < 0.5


def test_centres_on_the_lattice_need_a_lattice(crystal):
    with pytest.raises(sv.InputError, match="centers='lattice' needs a lattice"):
        fit_image(crystal[0], FitConfig(centers="lattice", lattice=None, **QUICK))


def test_lattice_patch_grid_is_the_largest_block_inside_the_image():
    from shiftvae.lattice.grid import lattice_patch_grid

    lat = sv.Lattice(np.array([[10.0, 0.0], [0.0, 10.0]]), np.array([5.0, 5.0]))
    grid = lattice_patch_grid(np.zeros((64, 84)), lat, window=10)
    assert grid.shape == (6, 8, 2)  # sites 5..55 by 5..75: every 10 px window fits
    assert grid[0, 0].tolist() == [5.0, 5.0] and grid[-1, -1].tolist() == [55.0, 75.0]
    with pytest.raises(sv.InputError, match="fewer than 2 x 2 lattice sites"):
        lattice_patch_grid(np.zeros((64, 84)), lat, window=60)


def test_lattice_patch_grid_runs_as_the_image_whatever_the_vectors_order_and_signs():
    from shiftvae.lattice.grid import lattice_patch_grid

    image = np.zeros((64, 84))
    for vectors in ([[10.0, 0.0], [0.0, 10.0]], [[0.0, -10.0], [-10.0, 0.0]]):
        grid = lattice_patch_grid(image, sv.Lattice(np.array(vectors), np.array([5.0, 5.0])), 10)
        assert grid.shape == (6, 8, 2)
        assert (np.diff(grid[..., 0], axis=0) > 0).all() and (
            np.diff(grid[..., 1], axis=1) > 0
        ).all()


def test_auto_centres_are_the_columns_from_eight_by_eight_cells_up(crystal):
    assert resolve_geometry(crystal[0], FitConfig())["centers"] == "grid"  # 160 px: 6-7 cells
    big, _ = sv.synthetic.intensity_ratio_crystal(size=256, cell=20.0, seed=1)
    assert resolve_geometry(sv.Image(big), FitConfig())["centers"] == "atoms"
    assert resolve_geometry(sv.Image(big), FitConfig(lattice=None))["centers"] == "grid"
    assert resolve_geometry(sv.Image(big), FitConfig(centers="grid"))["centers"] == "grid"


def test_auto_centres_keep_the_grid_on_a_hexagonal_lattice():
    from conftest import motif_image

    hexagonal = np.array([[0.0, 12.0], [10.392, 6.0]])
    image = sv.Image(motif_image((256, 256), hexagonal, sigma=1.8).astype(np.float32))
    geo = resolve_geometry(image, FitConfig())
    assert abs(geo["lattice"]["angle_deg"] - 60) < 2 and geo["centers"] == "grid"


def test_cli_reference_region_sets_the_strain_or_is_refused_before_training(
    crystal, tmp_path, capsys, monkeypatch
):
    image, _ = crystal
    path = tmp_path / "c.npy"
    np.save(path, image.data)
    args = ["fit", str(path), "--epochs", "1", "--phases", "none", "--no-figures", "-q"]
    assert main([*args, "--out", str(tmp_path / "a"), "--reference", "40,40,120,120"]) == 0
    run = sv.load_results(tmp_path / "a")
    assert run.config["reference"] == [40, 40, 120, 120]
    inside = run.strain.clear[40:120, 40:120]
    assert abs(np.median(run.strain.exx[40:120, 40:120][inside])) < 0.05  # its own lattice
    trained = []
    monkeypatch.setattr(shiftvae.pipeline.fit, "train_model", lambda *a, **k: trained.append(1))
    assert main([*args, "--out", str(tmp_path / "b"), "--reference", "0,0,8,8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "narrower than two lattice fringes" in err[0]
    assert not trained and not (tmp_path / "b").exists()  # refused before any training
