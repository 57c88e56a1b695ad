"""Benchmark crystals: seeded, in [0, 1], the documented lattice, and a truth the image obeys."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy.ndimage import map_coordinates
from scipy.spatial import cKDTree

from shiftvae.synthetic import crystals

CASES = [
    crystals.intensity_ratio_crystal,
    crystals.displacement_domain_crystal,
    crystals.two_phase_crystal,
    crystals.particles_on_support,
    crystals.sto_like_crystal,
    crystals.bfo_like_stripes,
]


def refine(image, points, radius=4, steps=6):
    """Column centres by a centroid re-centred a few times (background: the image median)."""
    off = np.arange(-radius, radius + 1, dtype=float)
    dr, dc = np.meshgrid(off, off, indexing="ij")
    disc = dr**2 + dc**2 <= radius**2
    dr, dc = dr[disc], dc[disc]
    p = np.array(points, dtype=float)
    for _ in range(steps):
        values = map_coordinates(image, [p[:, :1] + dr, p[:, 1:] + dc], order=1, mode="nearest")
        w = np.clip(values - np.median(image), 0, None)
        p += np.column_stack([w @ dr, w @ dc]) / w.sum(axis=1, keepdims=True)
    return p


def height(image, points, width, radius=4):
    """Peak height above the median by a Gaussian matched filter (less jitter-sensitive)."""
    off = np.arange(-radius, radius + 1, dtype=float)
    dr, dc = (g.ravel() for g in np.meshgrid(off, off, indexing="ij"))
    g = np.exp(-0.5 * (dr**2 + dc**2) / width**2)
    values = map_coordinates(image, [points[:, :1] + dr, points[:, 1:] + dc], order=1)
    return (values - np.median(image)) @ g / (g @ g)


def b_relative_to_a(image, truth, margin=8):
    """Measured B columns and their offsets from the mean of their four measured A neighbours."""
    inner = lambda p: p[np.all((p > margin) & (p < np.array(image.shape) - margin - 1), axis=1)]  # noqa: E731
    a, b = refine(image, inner(truth.sites["A"])), refine(image, inner(truth.sites["B"]))
    cell = np.linalg.norm(truth.lattice_vectors[0])
    dist, idx = cKDTree(a).query(b, k=4)
    full = dist.max(axis=1) < 0.8 * cell  # all four A neighbours inside the image
    return a, b[full], idx[full], b[full] - a[idx[full]].mean(axis=1)


@pytest.mark.parametrize("case", CASES, ids=lambda f: f.__name__)
def test_cases_are_seeded_and_in_unit_range(case):
    image, truth = case(size=160, seed=1)
    again, _ = case(size=160, seed=1)
    other, _ = case(size=160, seed=2)
    assert image.shape == (160, 160) and image.dtype == np.float32
    assert image.min() == 0 and image.max() == 1
    np.testing.assert_array_equal(image, again)
    assert not np.array_equal(image, other)
    assert truth.lattice_vectors.shape == (2, 2) and truth.params["seed"] == 1
    assert truth.field_fn is not None or truth.label_fn is not None


def test_family_is_complete_and_fast():
    start = time.perf_counter()
    family = crystals.benchmark_family(seed=0)
    per_image = (time.perf_counter() - start) / len(family)
    assert per_image < 2.0  # columns are splatted locally, not summed over the whole image
    assert set(family) == {
        "intensity_ratio",
        "displacement_domain",
        "two_phase",
        "particles_on_support",
        "sto_like",
        "bfo_like_stripes",
    }
    for image, truth in family.values():
        assert image.shape == (512, 512)
        labels = truth.label(np.argwhere(np.ones((64, 64))) * 8.0)
        assert 0.1 < labels.mean() < 0.9  # both classes cover a good part of the image


def test_lattice_is_where_documented():
    image, truth = crystals.intensity_ratio_crystal(seed=0)
    cell = np.linalg.norm(truth.lattice_vectors[0])
    assert 24 <= cell <= 32
    # the centred square lattice's strongest Fourier peaks are the (1, 1) family
    spectrum = np.abs(np.fft.fft2(image - image.mean()))
    freq = np.fft.fftfreq(512)
    fr, fc = np.meshgrid(freq, freq, indexing="ij")
    spectrum[np.hypot(fr, fc) < 0.5 / cell] = 0
    peak = np.array(np.unravel_index(np.argmax(spectrum), spectrum.shape))
    found = np.array([fr[tuple(peak)], fc[tuple(peak)]])
    reciprocal = np.linalg.inv(truth.lattice_vectors).T  # rows: b_i with a_i . b_j = delta_ij
    expected = np.array([s * (reciprocal[0] + t * reciprocal[1]) for s in (1, -1) for t in (1, -1)])
    assert np.abs(expected - found).max(axis=1).min() < 1.5 / 512
    # columns sit on the sites: bright there, dark half a cell along an axis
    a = truth.sites["A"][np.all((truth.sites["A"] > 20) & (truth.sites["A"] < 490), axis=1)]
    on = map_coordinates(image, a.T, order=1)
    off = map_coordinates(image, (a + truth.lattice_vectors[0] / 2).T, order=1)
    assert on.mean() > 0.4 and off.mean() < 0.15
    assert np.abs(refine(image, a) - a).max() < 0.6


def test_intensity_ratio_matches_the_field():
    image, truth = crystals.intensity_ratio_crystal(seed=0)
    a, b, idx, _ = b_relative_to_a(image, truth)
    ratio = height(image, b, 2.8) / height(image, a, 2.8)[idx].mean(axis=1)
    field = truth.field(b)
    assert field.min() >= 0.3 and field.max() <= 0.8 and field.max() - field.min() > 0.35
    assert np.corrcoef(ratio, field)[0, 1] > 0.9
    assert np.abs(ratio - field).max() < 0.1
    assert truth.label(b).tolist() == (field > truth.params["median_ratio"]).tolist()


@pytest.mark.parametrize(
    ("case", "d"), [(crystals.displacement_domain_crystal, 2.0), (crystals.sto_like_crystal, 1.0)]
)
def test_b_columns_are_displaced_by_plus_or_minus_d(case, d):
    image, truth = case(seed=0)
    _, b, _, offset = b_relative_to_a(image, truth)
    axis = truth.lattice_vectors[0] / np.linalg.norm(truth.lattice_vectors[0])
    along, field, label = offset @ axis, truth.field(b), truth.label(b)
    assert np.median(np.abs(along - field)) < 0.2  # per column: scan jitter adds ~0.2 px
    for domain, sign in ((1, 1.0), (0, -1.0)):
        interior = (label == domain) & (np.abs(field) > 0.95 * d)
        assert interior.sum() > 30
        assert abs(np.median(along[interior]) - sign * d) < 0.3
    assert np.abs(np.median(offset @ np.array([-axis[1], axis[0]]))) < 0.1


def test_bfo_stripes_alternate_the_diagonal():
    image, truth = crystals.bfo_like_stripes(seed=0)
    _, b, _, offset = b_relative_to_a(image, truth)
    units = truth.lattice_vectors / np.linalg.norm(truth.lattice_vectors, axis=1, keepdims=True)
    step = 1.5 / np.sqrt(2)
    field, label = truth.field(b), truth.label(b)
    interior = np.abs(field) > 0.9 * step
    assert abs(np.median(offset[interior] @ units[0]) - step) < 0.2
    across = offset[interior] @ units[1]
    assert ((across > 0) == (label[interior] == 1)).mean() > 0.95
    assert np.median(np.abs(across - field[interior])) < 0.2
    # several bands: the label flips along the stripe normal
    assert 4 <= np.abs(np.diff(truth.label(np.linspace([0, 0], [511, 511], 400)))).sum() <= 16


def test_two_phase_has_b_columns_in_one_phase_only():
    image, truth = crystals.two_phase_crystal(seed=0)
    assert truth.field(truth.sites["A"]) is None
    assert truth.label(truth.sites["B"]).all()
    a = truth.sites["A"][np.all((truth.sites["A"] > 20) & (truth.sites["A"] < 490), axis=1)]
    centres = a + truth.lattice_vectors.sum(axis=0) / 2
    centres = centres[np.all((centres > 20) & (centres < 490), axis=1)]
    in_phase1 = truth.label(centres) == 1
    h = height(image, centres, 2.8) / height(image, a, 2.8).mean()
    assert np.median(h[in_phase1]) == pytest.approx(0.6, abs=0.05)
    assert np.median(h[~in_phase1]) == pytest.approx(0.0, abs=0.05)


def test_two_phase_mismatch_enlarges_the_phase0_cell():
    image, truth = crystals.two_phase_crystal(mismatch=0.08, b_ratio_other=0.3, seed=3)
    a = refine(
        image, truth.sites["A"][np.all((truth.sites["A"] > 8) & (truth.sites["A"] < 503), 1)]
    )
    dist, _ = cKDTree(a).query(a, k=2)
    label = truth.label(a)
    cell = np.linalg.norm(truth.lattice_vectors[0])
    assert np.median(dist[label == 1, 1]) == pytest.approx(cell, abs=0.3)
    assert np.median(dist[label == 0, 1]) == pytest.approx(1.08 * cell, abs=0.3)


def test_particles_are_bright_and_carry_fringes():
    image, truth = crystals.particles_on_support(seed=0)
    rows, cols = np.indices(image.shape)
    inside = truth.label(np.column_stack([rows.ravel(), cols.ravel()])).reshape(image.shape)
    assert 0.1 < inside.mean() < 0.6
    assert image[inside == 1].mean() > image[inside == 0].mean() + 0.25
    assert truth.label(truth.sites["particles"]).all()
    # one large particle: the strongest non-DC frequency of its interior is 1 / fringe_period
    one, truth = crystals.particles_on_support(
        size=256,
        n_particles=1,
        radius=(110, 120),
        microscope=crystals.Microscope(noise="none"),
        seed=1,
    )
    r, c = np.round(truth.sites["particles"][0]).astype(int)
    crop = one[r - 48 : r + 48, c - 48 : c + 48]
    spectrum = np.abs(np.fft.fft2((crop - crop.mean()) * np.outer(*[np.hanning(96)] * 2)))
    freq = np.fft.fftfreq(96)
    radius = np.hypot(*np.meshgrid(freq, freq, indexing="ij"))
    spectrum[radius < 0.05] = 0
    assert radius.flat[np.argmax(spectrum)] == pytest.approx(1 / 10.0, abs=1.5 / 96)


def test_truth_undoes_the_scan_drift():
    mic = crystals.Microscope(noise="none", scan_jitter=0.0, scan_drift=6.0)
    image, truth = crystals.displacement_domain_crystal(size=256, microscope=mic, seed=0)
    assert np.ptp(truth.drift) > 5
    a = truth.sites["A"][np.all((truth.sites["A"] > 8) & (truth.sites["A"] < 247), axis=1)]
    np.testing.assert_allclose(refine(image, a), a, atol=0.05)
    specimen = truth.to_specimen(a)
    np.testing.assert_allclose(specimen[:, 0], a[:, 0])
    np.testing.assert_allclose(
        specimen[:, 1] - a[:, 1], np.interp(a[:, 0], np.arange(256), truth.drift)
    )
