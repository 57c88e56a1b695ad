"""Shared fixtures: small generated data sets and the location of the real images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import shiftvae as sv
import shiftvae.pipeline.fit

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_file(name: str) -> Path:
    """Path of a real image in ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"real image {name} not available: ../shared/data is absent in this clone")
    return path


def motif_image(
    shape, vectors, origin=(0.0, 0.0), motif=((0.0, 0.0, 1.0),), sigma=None, noise=0.0, seed=0
):
    """Gaussian atoms at ``origin + (i + u) a1 + (j + v) a2`` for each (u, v, amplitude).

    ``vectors`` must be Gauss-reduced, so the 3 x 3 cells around the nearest site hold every
    visible atom; ``sigma`` defaults to a seventh of the shorter period.
    """
    vectors = np.asarray(vectors, np.float64)
    sigma = sigma or np.hypot(*vectors.T).min() / 7
    rows, cols = np.indices(shape)
    pixels = np.stack([rows.ravel(), cols.ravel()], axis=1) - np.asarray(origin, np.float64)
    image = np.zeros(len(pixels))
    for u, v, amplitude in motif:
        frac = pixels @ np.linalg.inv(vectors) - (u, v)
        frac -= np.round(frac)
        for step in np.ndindex(3, 3):
            offset = (frac - np.subtract(step, 1)) @ vectors
            image += amplitude * np.exp(-np.sum(offset**2, axis=1) / (2 * sigma**2))
    image += noise * np.random.default_rng(seed).standard_normal(len(image))
    return image.reshape(shape)


@pytest.fixture(scope="session")
def sines():
    """500 short sine segments in [0, 1] with their true factors."""
    return sv.synthetic.sine_waves(n=500, length=40, seed=3)


@pytest.fixture(scope="session")
def lattice():
    """200 lattice patches of 16 x 16 with their true offsets."""
    return sv.synthetic.lattice_patches(n=200, window=16, period=8.0, seed=4)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def fit_calls(monkeypatch):
    """(beta_start, beta_end) of every training (``fit_image`` call) run in this process."""
    calls: list[tuple[float, float]] = []
    real = shiftvae.pipeline.fit_image

    def counting(image, config, progress=True, **checkpointing):
        calls.append((config.beta_start, config.beta_end))
        return real(image, config, progress=progress, **checkpointing)

    monkeypatch.setattr(shiftvae.pipeline.fit, "fit_image", counting)
    return calls


@pytest.fixture(scope="module")
def image() -> sv.Image:
    """A small generated lattice image (96 x 96, period 8 px) for sweeps and tuning."""
    return sv.Image(sv.synthetic.lattice_image(96, period=8.0, seed=1), None, "px", "lattice")


@pytest.fixture(scope="module")
def image_file(tmp_path_factory, image) -> Path:
    """``image`` saved as .npy, for the command line."""
    path = tmp_path_factory.mktemp("data") / "lattice.npy"
    np.save(path, image.data)
    return path
