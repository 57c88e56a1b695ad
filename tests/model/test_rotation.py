"""Rotation and scale latents: the anchor, the transforms, the KL, a trained model, the fit."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

import shiftvae as sv
from shiftvae.data.patches import extract_patches
from shiftvae.errors import InputError
from shiftvae.model.canvas_decoder import CanvasDecoder
from shiftvae.model.likelihood import kl_standard_normal
from shiftvae.model.pose import PoseAnchor, pose_matrix, symmetry_coherence, turn_patches
from shiftvae.model.position import kl_wrapped_normal_uniform
from shiftvae.pipeline.fit import FitConfig
from shiftvae.results import write_results_h5
from shiftvae.synthetic.grains import polycrystal, strained_film
from shiftvae.synthetic.paper import lattice_image
from shiftvae.types import Image


def _circular_gap(a_deg, b_deg, period):
    """|a - b| modulo ``period`` degrees, in [0, period / 2]."""
    d = np.mod(np.asarray(a_deg) - np.asarray(b_deg), period)
    return np.minimum(d, period - d)


def _window(image, size=20):
    r0 = (image.shape[0] - size) // 2
    return image[r0 : r0 + size, r0 : r0 + size]


@pytest.mark.parametrize("angle", [0.0, 12.0, 33.0, 71.0])
def test_the_anchor_reads_a_known_rotation_modulo_90_degrees(angle):
    x = np.stack([_window(lattice_image(64, 8.0, displacement=0.0, rotation_deg=angle))])
    phi, log_scale = PoseAnchor((20, 20), 4, period=8.0)(torch.as_tensor(x))
    assert _circular_gap(np.degrees(float(phi[0]) / 4), angle, 90.0) < 1.5
    assert abs(float(log_scale[0])) < 0.04  # the period it was told (20 px: within ~3%)


def _perovskite(angle_deg: float, b_brightness: float, cell: float = 8.0, size: int = 24):
    """A-site columns on a square lattice and B-site columns at the cell centres: with
    B as bright as A the image is a square lattice of cell / sqrt 2 turned by 45 degrees."""
    t = np.radians(angle_deg)
    a1 = cell * np.array([-np.sin(t), np.cos(t)])
    a2 = cell * np.array([np.cos(t), np.sin(t)])
    k = np.arange(-6, 7)
    ij = np.stack(np.meshgrid(k, k, indexing="ij"), -1).reshape(-1, 2) @ np.stack([a1, a2])
    centre = (size - 1) / 2 + 0.3
    rr, cc = np.mgrid[0:size, 0:size]
    image = np.zeros((size, size))
    for sites, height in ((ij, 1.0), (ij + (a1 + a2) / 2, b_brightness)):
        d2 = (rr[..., None] - centre - sites[:, 0]) ** 2 + (
            cc[..., None] - centre - sites[:, 1]
        ) ** 2
        image += height * np.exp(-d2 / (2 * (cell / 8) ** 2)).sum(-1)
    return image.astype(np.float32)


@pytest.mark.parametrize("angle", [10.0, 25.0, 40.0])
def test_the_anchor_keeps_the_orientation_where_the_other_family_of_planes_is_stronger(angle):
    """A perovskite layer whose B columns are as bright as its A columns has no power on the
    period's ring, only on the next shell (45 degrees away): its orientation must not jump
    by half a period from the layer next to it (the PbTiO3 layer of the supercrystal did)."""
    x = np.stack([_perovskite(angle, b) for b in (0.1, 0.5, 1.0)])
    phi, _ = PoseAnchor((24, 24), 4, period=8.0)(torch.as_tensor(x))
    read = np.degrees(phi.numpy() / 4)
    assert _circular_gap(read, angle, 90.0).max() < 2.0, read


def test_the_anchor_reads_the_lattice_parameter_to_one_percent():
    anchor = PoseAnchor((24, 24), 4, period=8.0)
    sizes = np.array([7.6, 8.0, 8.4, 8.8])
    x = np.stack(
        [_window(lattice_image(64, p, displacement=0.0, rotation_deg=20), 24) for p in sizes]
    )
    _, log_scale = anchor(torch.as_tensor(x))
    relative = np.exp(log_scale.numpy())
    # relative sizes to 1%; the absolute size depends a little on the columns' shape
    np.testing.assert_allclose(relative / relative[1], sizes / 8.0, rtol=0.01)
    np.testing.assert_allclose(relative, sizes / 8.0, rtol=0.025)


def test_turning_a_patch_back_undoes_a_rotation():
    a = _window(lattice_image(64, 8.0, displacement=0.0, rotation_deg=0.0), 24)
    b = _window(lattice_image(64, 8.0, displacement=0.0, rotation_deg=30.0), 24)
    turned = turn_patches(torch.as_tensor(np.stack([b])), torch.tensor([math.radians(30.0)]))
    disc = turned[0].numpy() != 0
    inner = np.zeros_like(disc)
    inner[5:-5, 5:-5] = True  # the resampling error is largest at the disc's rim
    err = np.abs(turned[0].numpy() - a)[disc & inner]
    assert err.mean() < 0.05 and turned[0].numpy()[0, 0] == 0  # corners outside the disc


def test_turning_keeps_the_columns_peak_brightness_at_every_angle():
    """Bilinear resampling dims a column by up to 12% depending on where it falls between
    pixels, which moves with the angle: a brightness order parameter then beats with the
    orientation.  Bicubic keeps the peaks within 5%."""
    a = _window(lattice_image(64, 8.0, displacement=0.0, rotation_deg=0.0), 24)
    angles = np.arange(0.0, 46.0, 3.0)
    b = np.stack([_window(lattice_image(64, 8.0, displacement=0.0, rotation_deg=t), 24)
                  for t in angles])  # fmt: skip
    turned = turn_patches(torch.as_tensor(b), torch.as_tensor(np.radians(angles)).float())
    peaks = turned[:, 6:-6, 6:-6].amax(dim=(1, 2)).numpy() / a[6:-6, 6:-6].max()
    assert peaks.min() > 0.93, np.round(peaks, 3)


def test_pose_of_a_quarter_turn_is_a_rot90_of_the_drawn_patch():
    torch.manual_seed(0)
    dec = CanvasDecoder((15, 15), 2, (16,), (8, 8))
    z = torch.randn(3, 2)
    identity = pose_matrix(torch.zeros(3), None)
    plain = dec(z, None, identity)
    torch.testing.assert_close(plain, dec(z), atol=1e-5, rtol=0)  # no pose, no move
    quarter = dec(z, None, pose_matrix(torch.full((3,), math.pi / 2), None))
    # turned counter-clockwise as displayed: np.rot90's direction
    torch.testing.assert_close(quarter, torch.rot90(plain, 1, (1, 2)), atol=1e-5, rtol=0)


def test_the_angle_kl_is_the_uniform_circle_prior_whatever_the_mean():
    model = sv.ShiftVAE((16, 16), decoder="canvas", rotation=4, seed=0)
    module = model.module_
    x = torch.rand(8, 16, 16)
    mean, std = module.inference(x)
    d = module.config.shift_dim
    assert mean.shape == (8, d + 1 + 2) and torch.all(mean[:, d].abs() <= math.pi)
    loss = module.loss(x, 1.0, torch.zeros_like(mean))
    keep = [i for i in range(mean.shape[1]) if i != d]
    expected = kl_wrapped_normal_uniform(std[:, d : d + 1]) + kl_standard_normal(
        mean[:, keep], std[:, keep]
    )
    torch.testing.assert_close(loss.kl, expected.mean())
    # the angle's mean adds nothing: every orientation is equally likely a priori
    turned = mean.clone()
    turned[:, d] += 2.0
    assert torch.allclose(
        kl_wrapped_normal_uniform(std[:, d : d + 1]),
        expected - kl_standard_normal(turned[:, keep], std[:, keep]),
    )
    # a wide angle posterior costs nothing; a sharp one costs log(2 pi / (sigma sqrt(2 pi e)))
    assert float(kl_wrapped_normal_uniform(torch.tensor([[30.0]]))) < 1e-6
    sharp = float(kl_wrapped_normal_uniform(torch.tensor([[0.05]])))
    assert sharp == pytest.approx(
        math.log(2 * math.pi) - 0.5 * math.log(2 * math.pi * math.e * 0.05**2), rel=1e-4
    )


def test_sampled_angles_follow_the_wrapped_normal():
    """The reparameterised draw mu + sigma eps, wrapped, has the wrapped normal's density."""
    from shiftvae.model.position import wrapped_normal_log_prob

    gen = torch.Generator().manual_seed(0)
    mu, sigma = torch.tensor(2.8), torch.tensor(0.9)
    draws = mu + sigma * torch.randn(200_000, generator=gen)
    wrapped = torch.remainder(draws + math.pi, 2 * math.pi) - math.pi
    hist, edges = np.histogram(wrapped.numpy(), bins=24, range=(-math.pi, math.pi), density=True)
    centres = torch.as_tensor((edges[:-1] + edges[1:]) / 2, dtype=torch.float32)
    density = wrapped_normal_log_prob(centres, mu, sigma).exp().numpy()
    np.testing.assert_allclose(hist, density, atol=0.01)


@pytest.fixture(scope="module")
def trained():
    """A small rotation model trained on patches of grains at random orientations."""
    image, truth = polycrystal(size=160, cell=8.0, grains=5, seed=3)
    patches = extract_patches(Image(image, None, "px", "grains"), window=20, step=5)
    model = sv.ShiftVAE((20, 20), decoder="canvas", rotation=4, period=8.0, seed=0)
    model.fit(patches.data, epochs=8, progress=False)
    return model, patches, truth


def test_a_trained_model_maps_the_grains_orientations(trained):
    model, patches, truth = trained
    enc = model.encode(patches)
    est = np.radians(enc.orientation_mean) * 4
    true = np.radians(truth.orientation(patches.centers)) * 4
    # circular correlation (Jammalamadaka), modulo the 4-fold symmetry
    a = np.sin(est - np.angle(np.exp(1j * est).mean()))
    b = np.sin(true - np.angle(np.exp(1j * true).mean()))
    assert (a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()) > 0.88  # anchor alone: 0.92


def test_rotating_inputs_moves_the_angle_latent_by_that_angle(trained):
    model, _, _ = trained
    x = np.stack(
        [_window(lattice_image(64, 8.0, displacement=0.0, rotation_deg=a)) for a in (10, 27)]
    )
    enc = model.encode(x)
    assert _circular_gap(enc.orientation_mean[1] - enc.orientation_mean[0], 17.0, 90.0) < 3.0
    # a turn by the lattice's symmetry (a quarter turn) reads as the same orientation
    quarter = model.encode(np.rot90(x, 1, (1, 2)).copy())
    assert np.all(_circular_gap(quarter.orientation_mean, enc.orientation_mean, 90.0) < 3.0)


def test_content_latents_describe_the_motif_not_its_orientation():
    """Lattices at random angles whose columns differ in width: a content latent follows the
    width, none follows the angle."""
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    n = 800
    angle, width = rng.uniform(0, 90, n), rng.uniform(1.0, 2.2, n)
    corner = rng.integers(0, 8, (n, 2))
    x = np.stack(
        [
            lattice_image(36, 8.0, atom_width=w, displacement=0.0, rotation_deg=a)[
                r : r + 20, c : c + 20
            ]
            for a, w, (r, c) in zip(angle, width, corner)
        ]
    )
    model = sv.ShiftVAE((20, 20), decoder="canvas", rotation=4, period=8.0, seed=0)
    model.fit(x, epochs=12, progress=False)
    z = model.encode(x).z_mean
    assert max(abs(spearmanr(v, width)[0]) for v in z.T) > 0.75
    turn = np.radians(angle) * 4  # association of each latent with the angle, modulo 90
    for v in z.T:
        assert (
            np.hypot(np.corrcoef(v, np.cos(turn))[0, 1], np.corrcoef(v, np.sin(turn))[0, 1]) < 0.2
        )


def test_decoding_the_encoding_uses_the_pose(trained):
    model, patches, _ = trained
    x = patches.data[:200]
    enc = model.encode(x)
    full = np.mean((model.decode(enc) - x) ** 2)
    unturned = np.mean((model.decode(enc.z_mean, enc.shift_mean, 0.0) - x) ** 2)
    assert full < 0.7 * unturned


@pytest.mark.parametrize("order", [5, 0.5, True, "four"])
def test_a_symmetry_order_a_lattice_cannot_have_is_refused(order):
    with pytest.raises(InputError, match="1, 2, 3, 4 or 6"):
        sv.ShiftVAE((16, 16), decoder="canvas", rotation=order)
    with pytest.raises(InputError, match="1, 2, 3, 4 or 6"):
        sv.fit_image(np.random.default_rng(0).random((64, 64)), FitConfig(rotation=order))


def test_pose_options_that_do_not_combine_are_refused():
    with pytest.raises(InputError, match="square 2D patches"):
        sv.ShiftVAE((16, 20), decoder="canvas", rotation=4)
    with pytest.raises(InputError, match="canvas or coordinate decoder"):
        sv.ShiftVAE((16, 16), decoder="lattice", lattice=[[8, 0], [0, 8]], rotation=4)
    with pytest.raises(InputError, match="period"):
        sv.ShiftVAE((16, 16), decoder="canvas", scale="isotropic")
    with pytest.raises(InputError, match="canvas or coordinate decoder"):
        sv.fit_image(np.zeros((64, 64)), FitConfig(rotation=4, decoder="lattice"))


def test_cli_refuses_a_bad_symmetry_order_in_one_sentence(tmp_path):
    image = tmp_path / "a.npy"
    np.save(image, np.random.default_rng(0).random((64, 64)).astype(np.float32))
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "shiftvae", "fit", str(image), "--out", str(out), "--rotation", "5"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "1, 2, 3, 4 or 6" in proc.stderr
    assert not out.exists()


def test_symmetry_coherence_tells_square_from_hexagonal_grains():
    for symmetry, other in ((4, 6), (6, 4)):
        image, _ = polycrystal(size=128, cell=8.0, grains=3, symmetry=symmetry, seed=1)
        period = 8.0 if symmetry == 4 else 8.0 * math.sqrt(3) / 2  # the strongest planes
        x = extract_patches(Image(image, None, "px", "g"), window=20, step=10).data
        assert symmetry_coherence(x, period, symmetry) > 2 * symmetry_coherence(x, period, other)


def test_a_brightness_field_follows_its_truth_and_leaves_the_grains_as_they_were():
    """The benchmark's ``order`` case: column brightness follows the known smooth field, and
    the grains and orientations are those of the image without it."""
    _, plain_truth = polycrystal(size=128, cell=8.0, grains=3, seed=5)
    image, truth = polycrystal(size=128, cell=8.0, grains=3, order=0.3, seed=5)
    r, c = np.mgrid[8:128:16, 8:128:16]
    centres = np.column_stack([r.ravel(), c.ravel()]).astype(float)
    assert np.array_equal(truth.grain(centres), plain_truth.grain(centres))
    assert np.array_equal(truth.orientation(centres), plain_truth.orientation(centres))
    assert np.all(plain_truth.order(centres) == 0)
    field = truth.order(centres)
    assert 0.1 < field.std() and np.abs(field).max() <= 0.3
    blocks = image.reshape(8, 16, 8, 16).mean(axis=(1, 3)).ravel()  # mean brightness
    assert np.corrcoef(blocks, field)[0, 1] > 0.8


def test_fit_with_rotation_and_scale_writes_orientation_and_strain(tmp_path):
    image, truth = strained_film(size=128, cell=8.0, strain=0.03, seed=2)
    config = FitConfig(rotation="auto", scale="isotropic", epochs=4)
    result = sv.fit_image(image, config, progress=False)
    geo = result.geometry
    assert geo["rotation"] == 4 and geo["decoder"] == "canvas" and geo["position"] == "torus"
    # the position lives on the motif's own square cell, one period on a side
    np.testing.assert_allclose(np.abs(np.linalg.det(geo["motif_lattice"])), 64.0, rtol=0.05)
    # decode(encode(x)) turns the image-frame shift back into the motif's frame exactly
    model, x = result.model, result.patches.data[:50]
    with torch.no_grad():
        mean, _ = model.module_.inference(torch.as_tensor(x, device=model.device))
        direct = torch.sigmoid(model.module_.generative(mean)).cpu().numpy()
    np.testing.assert_allclose(model.decode(model.encode(x)), direct, atol=1e-5)
    maps = result.maps
    assert maps.orientation.shape == maps.z.shape[1:] and maps.scale.shape == (1, *maps.z.shape[1:])
    true = truth.orientation(result.patches.centers)
    gap = _circular_gap(maps.orientation.ravel(), true, 90.0)
    assert np.median(_circular_gap(gap, np.median(gap), 90.0)) < 2.0  # one offset, no spread
    path = write_results_h5(tmp_path / "results.h5", result)
    loaded = sv.load_results(tmp_path)
    np.testing.assert_allclose(loaded.maps.orientation, maps.orientation, rtol=1e-6)
    np.testing.assert_allclose(loaded.maps.scale, maps.scale, rtol=1e-6)
    np.testing.assert_allclose(loaded.encoding.orientation_mean, result.encoding.orientation_mean)
    import h5py

    with h5py.File(path) as f:
        assert f["entry/orientation_map/orientation"].attrs["units"] == "deg"
        assert f["entry/scale_maps/scale"].attrs["units"] == "relative lattice parameter"


def test_fit_with_rotation_measures_the_strain_of_each_grain(tmp_path):
    """A polycrystal with a rotation latent: GPA grain by grain, into results.h5 and the
    report, and no columns (no one lattice to index them)."""
    image, _ = polycrystal(size=256, cell=10.0, grains=4, strain=0.03, seed=1)
    config = FitConfig(rotation="auto", epochs=2, hidden=(16, 16), phases=None)
    result = sv.fit_image(image, config, progress=False)
    grains = result.metrics["grains"]
    assert grains["count"] >= 2 and grains["symmetry"] == 4
    assert result.columns is None and result.strain.grains.max() == grains["count"] - 1
    sv.save_results(result, tmp_path / "run")
    back = sv.load_results(tmp_path / "run").strain
    np.testing.assert_array_equal(back.grains, result.strain.grains)
    report = (tmp_path / "run" / "report.html").read_text()
    assert "grains (GPA per grain)" in report and "of each grain against" in report
    # a reference region on no grain is the user's mistake: said before any training
    bad = dataclasses.replace(config, reference=(0, 0, 10, 10))
    with pytest.raises(sv.InputError, match="lies on no measured grain"):
        sv.fit_image(image, bad, progress=False)


def test_transfer_and_series_keep_the_rotation():
    """A rotation model encodes a new image exactly as inside its fit, and a series of
    grains images shares one model (no lattice origin to relocate on a square grid)."""
    a, _ = polycrystal(size=96, cell=8.0, grains=2, seed=0)
    b, _ = polycrystal(size=96, cell=8.0, grains=3, seed=1)
    config = FitConfig(epochs=2, hidden=(16, 16), phases=None, rotation=4)
    series = sv.fit_images([a, b], config, progress=False)
    assert all(r.maps.orientation is not None for r in series.results)
    again = sv.transfer_image(series.model, b)
    np.testing.assert_array_equal(again.maps.orientation, series.results[1].maps.orientation)


@pytest.mark.parametrize(
    "options",
    [
        {"decoder": "coordinate", "rotation": 4},
        {"decoder": "canvas", "rotation": 6, "scale": "axes", "period": 7.0},
        {"decoder": "canvas", "scale": "isotropic", "period": 8.0},
    ],
)
def test_every_pose_variant_trains_and_decodes_its_encoding(options):
    """Both decoders, both scale kinds, rotation alone and scale alone: decode(encode(x))
    is the decoder at the posterior means, whatever the pose latents."""
    x = np.stack(
        [
            _window(lattice_image(48, 8.0, displacement=0.0, rotation_deg=a), 16)
            for a in range(0, 60, 3)
        ]
    )
    model = sv.ShiftVAE((16, 16), hidden=(32, 32), seed=0, **options)
    model.fit(x, epochs=2, progress=False)
    enc = model.encode(x)
    assert (enc.orientation_mean is None) == ("rotation" not in options)
    if "scale" in options:
        assert enc.scale_mean.shape == (len(x), 2 if options["scale"] == "axes" else 1)
        assert np.all(enc.scale_mean > 0)
    with torch.no_grad():
        mean, _ = model.module_.inference(torch.as_tensor(x, device=model.device))
        direct = torch.sigmoid(model.module_.generative(mean)).cpu().numpy()
    np.testing.assert_allclose(model.decode(enc), direct, atol=1e-5)
