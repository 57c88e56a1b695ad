"""The probe and dose of the generated images: Airy disc, source blur, counts from e/A^2."""

from __future__ import annotations

import numpy as np
import pytest

from shiftvae.synthetic.crystal_scene import Microscope, _render_columns
from shiftvae.synthetic.crystals import displacement_domain_crystal
from shiftvae.synthetic.probe import airy_spot, wavelength_pm


def test_wavelength_is_relativistic():
    assert wavelength_pm(200) == pytest.approx(2.508, abs=1e-3)
    assert wavelength_pm(300) == pytest.approx(1.969, abs=1e-3)


def test_a_point_column_through_the_probe_is_an_airy_disc_with_its_first_zero():
    spot, reach = airy_spot(0.01, 21.4, 200, 0.0, 5.0)  # no source, a point column
    zero = 0.61 * wavelength_pm(200) / 21.4e-3 / 5.0  # 71.5 pm on 5 pm pixels
    r = np.linspace(0, 1.5 * zero, 301)
    profile = spot(np.stack([np.zeros_like(r), r], -1))
    assert profile[0] == pytest.approx(1.0, abs=1e-3)
    dip = r[np.argmin(profile[(r > 0.5 * zero)]) + np.sum(r <= 0.5 * zero)]
    assert dip == pytest.approx(zero, rel=0.03)
    assert profile[(r > 0.9 * zero)].max() < 0.03  # the first ring: 1.75% of the peak
    assert reach > 3 * zero


def test_the_source_blurs_the_spot_and_the_image_keeps_its_peaks():
    sharp, _ = airy_spot(0.5, 21.4, 200, 0.0, 14.0)
    blurred, _ = airy_spot(0.5, 21.4, 200, 40.0, 14.0)
    at = np.array([[0.0, 3.0]])
    assert blurred(at)[0] > sharp(at)[0]  # wider: more at 3 px
    column = np.array([[20.3, 20.6]])
    image = _render_columns((41, 41), column, np.ones(1), 0.5, np.zeros(41), Microscope(
        convergence_mrad=21.4, source_pm=40.0, pixel_pm=14.0))  # fmt: skip
    assert np.unravel_index(image.argmax(), image.shape) == (20, 21)
    assert image.max() == pytest.approx(1.0, abs=0.05)


def test_dose_sets_the_poisson_counts_at_a_column_peak():
    scope = Microscope(dose=1e5, pixel_pm=14.0, collection=0.05)
    assert scope.peak_counts() == pytest.approx(1e5 * 0.14**2 * 0.05)
    # the noise between two images of the same crystal, relative to the column peak
    kwargs = {"size": 128, "b_ratio": 0.5}
    low = [
        displacement_domain_crystal(
            **kwargs, seed=s, microscope=Microscope(dose=1e4, scan_jitter=0, scan_drift=0)
        )[0]
        for s in (0, 0)
    ]
    assert np.array_equal(*low)  # the same seed, the same image
    high = displacement_domain_crystal(
        **kwargs, seed=0, microscope=Microscope(dose=1e6, scan_jitter=0, scan_drift=0)
    )[0]
    clean = displacement_domain_crystal(
        **kwargs, seed=0, microscope=Microscope(noise="none", scan_jitter=0, scan_drift=0)
    )[0]

    def noise(image):  # relative to the columns' contrast (images are scaled to [0, 1])
        design = np.column_stack([clean.ravel(), np.ones(clean.size)])
        coef, *_ = np.linalg.lstsq(design, image.ravel(), rcond=None)
        return np.std(image.ravel() - design @ coef) / coef[0]

    # 100 times the dose, a tenth of the noise
    assert noise(low[0]) / noise(high) == pytest.approx(10, rel=0.1)
