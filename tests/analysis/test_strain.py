"""GPA strain and rotation against lattices with known displacement fields."""

from __future__ import annotations

import numpy as np
import pytest

from shiftvae.analysis.strain import strain_maps
from shiftvae.errors import InputError

SIDE = 256
PERIOD = 10.0


def render(sites: np.ndarray, width: float = 1.6, side: int = SIDE) -> np.ndarray:
    """Gaussian columns at ``sites`` (N, 2) (row, col) on a side x side image."""
    image = np.zeros((side, side))
    offsets = np.arange(-4, 5)
    for dr in offsets:
        for dc in offsets:
            r = np.rint(sites[:, 0]).astype(int) + dr
            c = np.rint(sites[:, 1]).astype(int) + dc
            keep = (r >= 0) & (r < side) & (c >= 0) & (c < side)
            d2 = (r - sites[:, 0]) ** 2 + (c - sites[:, 1]) ** 2
            np.add.at(image, (r[keep], c[keep]), np.exp(-d2[keep] / (2 * width**2)))
    return image


def lattice_sites(displacement, side: int = SIDE) -> np.ndarray:
    """Square-lattice sites moved by ``displacement(sites) -> (N, 2)``."""
    n = np.arange(-3, side / PERIOD + 3)
    sites = np.stack(np.meshgrid(n, n, indexing="ij"), -1).reshape(-1, 2) * PERIOD
    return sites + displacement(sites)


def interior(maps, margin: int = 48) -> np.ndarray:
    inside = np.zeros_like(maps.clear)
    inside[margin:-margin, margin:-margin] = True
    return inside & maps.clear


def test_a_perfect_lattice_reads_no_strain_and_no_rotation():
    rng = np.random.default_rng(0)
    image = rng.poisson(500 * render(lattice_sites(lambda s: 0 * s)) + 50).astype(float)
    maps = strain_maps(image, np.eye(2) * PERIOD)
    inside = interior(maps)
    for name in ("exx", "eyy", "exy"):
        assert np.percentile(np.abs(getattr(maps, name)[inside]), 99) < 0.1  # percent
    assert np.percentile(np.abs(maps.rotation[inside]), 99) < 0.1  # degrees


@pytest.mark.parametrize(
    "gradient",
    [
        np.array([[0.0, 0.0], [0.0, 0.03]]),  # exx: the columns' spacing grows 3%
        np.array([[-0.02, 0.0], [0.0, 0.0]]),  # eyy: rows compressed 2%
        np.array([[0.0, 0.01], [0.01, 0.0]]),  # exy: pure shear 1%
        np.array([[0.0, -0.02], [0.02, 0.0]]),  # rotation 0.02 rad counter-clockwise
    ],
    ids=["exx", "eyy", "exy", "rotation"],
)
def test_a_distortion_is_read_against_the_reference_and_not_against_the_median(gradient):
    """Sites at (I + D) r0: against the undistorted lattice the maps read D (row, col
    components D[component, axis]) in percent and degrees; against the image's median
    lattice (the default) they read zero."""
    image = render(lattice_sites(lambda s: s @ gradient.T))
    found = (np.eye(2) * PERIOD) @ (np.eye(2) + gradient).T  # as estimate_lattice finds it
    d = gradient
    expected = {
        "exx": 100 * d[1, 1],
        "eyy": 100 * d[0, 0],
        "exy": 50 * (d[0, 1] + d[1, 0]),
        "rotation": np.degrees(0.5 * (d[1, 0] - d[0, 1])),
    }
    against = strain_maps(image, found, reference=np.eye(2) * PERIOD)
    median = strain_maps(image, found)
    for name, value in expected.items():
        values = getattr(against, name)[interior(against)]
        assert np.abs(values - value).max() < 0.05, name
        assert np.abs(getattr(median, name)[interior(median)]).max() < 0.05, name


def test_a_perovskite_full_cell_uses_its_strong_reflections():
    """Weak superlattice columns (B at 0.15 of A) define the full cell; the strain is read on
    the strong sums g1 + g2, g1 - g2 and is still zero on a perfect crystal."""
    a = lattice_sites(lambda s: 0 * s)
    image = render(a) + 0.15 * render(a + PERIOD / 2)
    cell = np.array([[PERIOD, PERIOD], [PERIOD, -PERIOD]])  # the full (doubled) cell
    maps = strain_maps(image, cell)
    assert np.percentile(np.abs(maps.exx[interior(maps)]), 99) < 0.1


def test_a_sublattice_halfway_along_a_vector_uses_the_harmonic():
    """B halfway along a2 (nearly as bright as A): g2 is weak and 2 g2 strong, so GPA must
    use the harmonic, or the strong fringes leak into g2's phase as strain that ripples
    with the lattice period (the shared perovskite ADF image: +-1.7%)."""
    n = np.arange(-3, SIDE / 10 + 3)
    cells = np.stack(np.meshgrid(n, np.arange(-3, SIDE / 16 + 3), indexing="ij"), -1)
    a = cells.reshape(-1, 2) * [10.0, 16.0]
    image = render(a) + 0.9 * render(a + np.array([0.0, 8.0]))
    maps = strain_maps(image, np.diag([10.0, 16.0]), errors=False)
    inside = interior(maps)
    assert np.isclose(1 / np.abs(maps.g[:, 1]).max(), 8.0)  # 2 g2: fringes of 8 px
    for name in ("exx", "eyy", "exy"):
        assert np.percentile(np.abs(getattr(maps, name)[inside]), 99) < 0.05, name


def test_bad_inputs_are_one_sentence():
    with pytest.raises(InputError, match="2D image"):
        strain_maps(np.zeros((4, 4, 3)), np.eye(2))
    with pytest.raises(InputError, match="mask_share"):
        strain_maps(np.zeros((64, 64)), np.eye(2) * 8, mask_share=0.9)
    with pytest.raises(InputError, match="reference"):
        strain_maps(render(lattice_sites(lambda s: 0 * s)), np.eye(2) * 10, np.ones((2, 2)))
    with pytest.raises(InputError, match="too few cells"):
        strain_maps(np.zeros((16, 16)), np.eye(2) * 15)


def test_error_bars_cover_the_noise_and_the_scan_line_jitter():
    """A perfect lattice under Poisson noise, then also with each scan line shifted along
    itself: the RMS strain over the RMS error bar stays near 1, and jitter (which moves
    the columns, not only the pixels) widens the bars."""

    def image(jitter: float, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        line = rng.normal(0, jitter, SIDE + 16)
        sites = lattice_sites(lambda s: 0 * s)
        clean = np.zeros((SIDE, SIDE))
        for dr in range(-4, 5):
            for dc in range(-5, 6):
                r = np.rint(sites[:, 0]).astype(int) + dr
                c = np.rint(sites[:, 1]).astype(int) + dc
                keep = (r >= 0) & (r < SIDE) & (c >= 0) & (c < SIDE)
                seen = sites[:, 1] + line[np.clip(r, -8, SIDE + 7) + 8]
                d2 = (r - sites[:, 0]) ** 2 + (c - seen) ** 2
                np.add.at(clean, (r[keep], c[keep]), np.exp(-d2[keep] / (2 * 1.6**2)))
        return rng.poisson(100 * (clean + 0.1)).astype(float)

    spread = {}
    for jitter in (0.0, 0.3):
        maps = strain_maps(image(jitter, 1), np.eye(2) * PERIOD)
        inside = interior(maps)
        spread[jitter] = float(np.median(maps.errors[2][inside]))
        for k, name in enumerate(("exx", "eyy", "exy", "rotation")):
            values = getattr(maps, name)[inside].astype(float)
            actual = np.sqrt(np.mean((values - np.median(values)) ** 2))
            predicted = np.sqrt(np.mean(maps.errors[k][inside] ** 2))
            assert 0.6 < actual / predicted < 1.5, (jitter, name, actual, predicted)
    assert spread[0.3] > 1.5 * spread[0.0]  # exy: jitter shears the rows


def test_error_bars_cover_the_averaging_bias_of_a_curved_field():
    """A +-3% film whose field curves within a few resolutions, at high dose: the error is
    the mask's averaging, not noise. Scored against the true field (not its average), the
    bars must hold it (they were 5-15 times too small before the curvature term)."""
    wavelength, amplitude = 128.0, 0.03
    k = 2 * np.pi / wavelength

    def move(s):
        return amplitude / k * np.sin(k * s)

    rng = np.random.default_rng(0)
    image = rng.poisson(1000 * (render(lattice_sites(move)) + 0.1)).astype(float)
    maps = strain_maps(image, np.eye(2) * PERIOD)
    inside = interior(maps)
    rows, cols = np.nonzero(inside)
    r0, c0 = rows.astype(float), cols.astype(float)
    for _ in range(20):  # the undeformed point that lands on each pixel
        r0, c0 = rows - move(r0), cols - move(c0)
    for index, (name, true) in enumerate((("exx", np.cos(k * c0)), ("eyy", np.cos(k * r0)))):
        measured = getattr(maps, name)[inside].astype(float)
        truth = 100 * amplitude * true
        error = (measured - np.median(measured)) - (truth - np.median(truth))
        ratio = np.sqrt(np.mean(error**2)) / np.sqrt(np.mean(maps.errors[index][inside] ** 2))
        assert 0.7 < ratio < 1.4, (name, ratio)


def test_errors_can_be_left_out():
    maps = strain_maps(render(lattice_sites(lambda s: 0 * s)), np.eye(2) * PERIOD, errors=False)
    assert maps.errors is None and "exx_error_median" not in maps.summary()


def test_a_reference_region_sets_the_unstrained_lattice():
    """Left half at the period, right half 2% longer along x: against a region in the left
    half the left reads 0 and the right +2%; against the median both read about +-1%."""

    def stretch(s):
        return np.column_stack([np.zeros(len(s)), 0.02 * np.clip(s[:, 1] - SIDE / 2, 0, None)])

    image = render(lattice_sites(stretch))
    left, right = (slice(60, 196), slice(40, 100)), (slice(60, 196), slice(170, 220))
    maps = strain_maps(image, np.eye(2) * PERIOD, region=(40, 20, 216, 110))
    assert abs(np.median(maps.exx[left][maps.clear[left]])) < 0.1
    assert np.median(maps.exx[right][maps.clear[right]]) == pytest.approx(2.0, abs=0.2)
    median = strain_maps(image, np.eye(2) * PERIOD, errors=False)
    assert np.median(median.exx[left][median.clear[left]]) < -0.5  # the median sits between


@pytest.mark.parametrize(
    ("region", "words"),
    [
        ((0, 0, 300, 100), "not a rectangle inside the 256 x 256 image"),
        ((100, 100, 110, 110), "narrower than two lattice fringes"),
        ((0, 0, 24, 256), "fringes are clear in only"),
    ],
)
def test_a_bad_reference_region_is_one_sentence(region, words):
    image = render(lattice_sites(lambda s: 0 * s))
    with pytest.raises(InputError, match=words) as caught:
        strain_maps(image, np.eye(2) * PERIOD, region=region)
    assert "\n" not in str(caught.value)


def test_the_automatic_mask_is_wide_where_the_field_curves_and_narrow_where_noise_rules():
    # a film whose strain curves over 128 px: a narrow mask (wide average) flattens it
    k, amplitude = 2 * np.pi / 128, 0.03
    film = lambda s: amplitude / k * np.sin(k * s)  # noqa: E731
    clean = 1000 * render(lattice_sites(film)) + 100
    rows = np.arange(SIDE)[:, None] + np.zeros(SIDE)[None]
    true_eyy = 100 * amplitude * np.cos(k * rows)  # percent, near enough for this check
    chosen = strain_maps(clean, np.eye(2) * PERIOD)
    fixed = strain_maps(clean, np.eye(2) * PERIOD, mask_share=0.1)
    inside = interior(chosen) & interior(fixed)

    def rms(maps):
        return float(np.sqrt(np.mean((maps.eyy[inside] - true_eyy[inside]) ** 2)))

    assert chosen.resolution < fixed.resolution
    assert rms(chosen) < 0.7 * rms(fixed)
    # a perfect lattice at a low dose keeps the narrow mask: noise rules
    rng = np.random.default_rng(0)
    noisy = rng.poisson(20 * render(lattice_sites(lambda s: 0 * s)) + 2).astype(float)
    assert strain_maps(noisy, np.eye(2) * PERIOD).resolution == pytest.approx(
        strain_maps(noisy, np.eye(2) * PERIOD, mask_share=0.1).resolution
    )
    with pytest.raises(InputError, match="mask_share"):
        strain_maps(noisy, np.eye(2) * PERIOD, mask_share="wide")
