"""HyperSpy in and out: signals read by their duck type, maps out when HyperSpy is there."""

from __future__ import annotations

import importlib.util
import sys
from types import SimpleNamespace

import numpy as np
import pytest

import shiftvae as sv
import shiftvae.pipeline.series

HAS_HYPERSPY = importlib.util.find_spec("hyperspy") is not None


def fake_signal(data, scale=0.05, units="nm", title="scan"):
    """What sv reads of a HyperSpy Signal2D: data, signal axes (x, y) and the title."""
    axis = SimpleNamespace(scale=scale, units=units)
    return SimpleNamespace(
        data=data,
        axes_manager=SimpleNamespace(signal_axes=(axis, axis)),
        metadata=SimpleNamespace(General=SimpleNamespace(title=title)),
    )


def test_a_signal_is_an_image_with_its_calibration():
    data = sv.synthetic.lattice_image(size=96, period=8.0, seed=0)
    image = sv.pipeline.fit.as_image(fake_signal(data, scale=50.0, units="pm"))
    assert image.pixel_size == pytest.approx(0.05) and image.unit == "nm"
    assert image.source == "scan" and image.data.shape == (96, 96)
    stack = fake_signal(np.stack([data, data]))
    with pytest.raises(sv.InputError, match="stack of 2 images: fit them with fit_images"):
        sv.pipeline.fit.as_image(stack)
    frames = sv.pipeline.series._as_images(stack)
    assert [f.source for f in frames] == ["scan [0]", "scan [1]"]
    with pytest.raises(sv.InputError, match="3 signal axes"):
        sv.pipeline.fit.as_image(
            SimpleNamespace(data=data, axes_manager=SimpleNamespace(signal_axes=(1, 2, 3)))
        )


def test_to_hyperspy_without_hyperspy_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "hyperspy.api", None)  # as if it were not installed
    monkeypatch.setitem(sys.modules, "hyperspy", None)
    image = sv.synthetic.lattice_image(size=64, period=8.0, seed=2)
    config = sv.FitConfig(window=16, step=8, epochs=1, hidden=(8, 8), lattice=None, phases=None)
    sv.save_results(sv.fit_image(image, config, progress=False), tmp_path / "run")
    with pytest.raises(sv.MissingExtraError, match=r"shiftvae\[hyperspy\]"):
        sv.load_results(tmp_path / "run").to_hyperspy()


@pytest.mark.skipif(not HAS_HYPERSPY, reason="HyperSpy is not installed (the hyperspy extra)")
def test_hyperspy_round_trip(tmp_path):
    import hyperspy.api as hs

    data = sv.synthetic.lattice_image(size=64, period=8.0, seed=2)
    signal = hs.signals.Signal2D(data)
    for axis in signal.axes_manager.signal_axes:
        axis.scale, axis.units = 0.02, "nm"
    config = sv.FitConfig(window=16, step=8, epochs=1, hidden=(8, 8), lattice=None, phases=None)
    sv.save_results(sv.fit_image(signal, config, progress=False), tmp_path / "run")
    maps = sv.load_results(tmp_path / "run").to_hyperspy()
    x = maps.axes_manager.signal_axes[0]
    assert x.units == "nm" and x.scale == pytest.approx(8 * 0.02)
    assert maps.data.shape[0] == 2


@pytest.mark.skipif(not HAS_HYPERSPY, reason="HyperSpy is not installed (pip install hyperspy)")
def test_orientation_and_scale_maps_out_as_signals(tmp_path):
    from shiftvae.synthetic.grains import polycrystal

    image, _ = polycrystal(size=96, cell=8.0, grains=2, seed=0)
    config = sv.FitConfig(epochs=1, hidden=(8, 8), phases=None, rotation=4, scale="isotropic")
    result = sv.fit_image(image, config, progress=False)
    sv.save_results(result, tmp_path / "run")
    loaded = sv.load_results(tmp_path / "run")
    orientation = loaded.to_hyperspy("orientation")
    np.testing.assert_allclose(orientation.data, result.maps.orientation, rtol=1e-6)
    assert loaded.to_hyperspy("scale").data.shape == result.maps.scale.shape
    plain = sv.fit_image(image, sv.FitConfig(epochs=1, hidden=(8, 8), phases=None), progress=False)
    sv.save_results(plain, tmp_path / "plain")
    with pytest.raises(sv.InputError, match="no orientation maps"):
        sv.load_results(tmp_path / "plain").to_hyperspy("orientation")
