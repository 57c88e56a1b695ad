"""The fit's geometry as one typed record: built once per source, and the files written
before it (``tests/data/fit_v0_1_0``: results.h5, model.pt and run.json of a default fit
with the previous version, 2 epochs) load and read as they did."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError
from pathlib import Path

import numpy as np
import pytest

import shiftvae as sv
from shiftvae.lattice.estimate import Lattice
from shiftvae.pipeline.fit import FitConfig
from shiftvae.pipeline.geometry import Geometry
from shiftvae.synthetic.alike_crystals import alike_sublattice_crystal

BEFORE = Path(__file__).resolve().parents[1] / "data" / "fit_v0_1_0"


def _image() -> sv.Image:
    """The image the files of BEFORE were fitted on."""
    image, _ = alike_sublattice_crystal(size=96, cell=12.0, seed=0)
    return sv.Image(image, 0.02, "nm", "generated")


def _same(a, b) -> None:
    """Equal JSON values, floats to 1e-9 relative."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-9)
    else:
        assert a == b


def test_a_results_file_of_before_loads_its_geometry_and_writes_the_same_keys():
    stored = json.loads((BEFORE / "run.json").read_text())["geometry"]
    loaded = sv.load_results(BEFORE).geometry
    assert isinstance(loaded, Geometry) and isinstance(loaded.lattice, Lattice)
    assert loaded.window == 18 and loaded.position == "torus" and loaded.epochs == 2
    assert loaded.as_dict() == stored  # exactly: keys, order-free, and values
    assert loaded["lattice"]["vectors"] == stored["lattice"]["vectors"]  # read as the mapping
    _same(Geometry.from_dict(json.loads(json.dumps(loaded.as_dict()))).as_dict(), stored)


def test_a_default_fit_now_decides_the_geometry_it_decided_before():
    stored = json.loads((BEFORE / "run.json").read_text())["geometry"]
    result = sv.fit_image(_image(), FitConfig(epochs=2, phases=None, seed=0), progress=False)
    # one choice is new: the background's plane goes before its blur (read False before)
    _same(result.geometry.as_dict(), {**stored, "background_plane": True})
    assert not sv.load_results(BEFORE).geometry.background_plane


def test_a_model_of_before_transfers_to_its_image_with_its_geometry():
    model = sv.load_model(BEFORE / "model.pt")
    result = sv.transfer_image(model, _image())
    before = sv.load_results(BEFORE)
    geo = result.geometry
    assert geo.transfer and geo.series is None
    assert (geo.window, geo.step, geo.binning, geo.background) == (18, 2, 1, 24.0)
    np.testing.assert_allclose(geo.lattice.vectors, before.geometry.lattice.vectors)
    # the same model on the same image: the maps it wrote
    np.testing.assert_allclose(result.maps.z, before.maps.z, atol=1e-5)


def test_geometry_is_frozen_and_old_keys_take_the_papers_defaults():
    geo = Geometry.from_dict({"window": 32, "step": 16, "binning": 1, "lattice": None})
    assert (geo.position, geo.decoder, geo.encoder, geo.centers) == (
        "gaussian",
        "coordinate",
        "mlp",
        "grid",
    )
    assert geo.background is None and geo.likelihood is None and geo.rotation == 0
    with pytest.raises(FrozenInstanceError):
        geo.window = 16  # type: ignore[misc]
    assert geo.with_(epochs=5).epochs == 5 and geo.epochs is None
    assert "epochs" not in geo.as_dict() and "transfer" not in geo.as_dict()
