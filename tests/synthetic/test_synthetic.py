"""Synthetic data generators: ranges, factors and determinism."""

from __future__ import annotations

import numpy as np

import shiftvae as sv


def test_sine_waves_factors_and_range():
    X, f = sv.synthetic.sine_waves(n=300, length=100, seed=1)
    assert X.shape == (300, 100) and X.dtype == np.float32
    assert X.min() >= 0 and X.max() <= 1
    assert f["mu"].min() >= -3 and f["mu"].max() <= 3
    assert set(np.round(f["sigma"], 1)) <= {1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2}
    assert (f["noise"] >= 0).all() and (f["noise"] <= 0.1).all()
    clean, g = sv.synthetic.sine_waves(n=5, length=100, noise=0.0, seed=2)
    expected = (np.sin((g["x"][None] - g["mu"][:, None]) / g["sigma"][:, None]) + 1) / 2
    np.testing.assert_allclose(clean, expected, atol=1e-6)


def test_generators_are_seeded():
    a, _ = sv.synthetic.sine_waves(n=10, seed=7)
    b, _ = sv.synthetic.sine_waves(n=10, seed=7)
    c, _ = sv.synthetic.sine_waves(n=10, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_lattice_patches_follow_their_offsets():
    p, f = sv.synthetic.lattice_patches(
        n=20, window=20, period=10.0, max_rotation_deg=0, displacement=(0, 0), seed=0
    )
    assert p.shape == (20, 20, 20) and 0 <= p.min() and p.max() <= 1
    for patch, (r0, c0) in zip(p, f["offset"]):
        # an atom sits at (window/2 + offset) modulo the period: the brightest pixel is there
        r, c = np.unravel_index(np.argmax(patch[5:15, 5:15]), (10, 10))
        dr = ((r + 5 - 10 - r0 + 5) % 10) - 5
        dc = ((c + 5 - 10 - c0 + 5) % 10) - 5
        assert abs(dr) <= 1 and abs(dc) <= 1


def test_lattice_image_has_the_period():
    img = sv.synthetic.lattice_image(size=128, period=16.0, displacement=0.0, seed=0)
    spectrum = np.abs(np.fft.rfft(img.mean(axis=0) - img.mean()))
    assert np.argmax(spectrum) == 128 // 16
