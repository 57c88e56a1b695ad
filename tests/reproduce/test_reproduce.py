"""``shiftvae reproduce FIGURE --quick``: every figure runs and its numbers show the paper's
qualitative finding (on reduced data, so the bars are looser than the full runs')."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shiftvae.cli import main
from shiftvae.reproduce._common import modulated_lattice

pytestmark = pytest.mark.slow


def _reproduce(tmp_path, figure, *extra):
    out = tmp_path / figure
    assert main(["reproduce", figure, "--out", str(out), "--quick", "-q", *extra]) == 0
    numbers = json.loads((out / "numbers.json").read_text())
    assert numbers["figure"] == figure and numbers["quick"] is True and numbers["seed"] == 0
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs and numbers["figures"] == pngs
    assert numbers["timings_s"]["total"] > 0
    return numbers


def test_fig2_shift_vae_takes_the_offset_out_of_the_conventional_latents(tmp_path):
    s = _reproduce(tmp_path, "fig2")["results"]["summary"]
    assert s["shift_vae_shift_r2"] >= 0.8  # the shift latent tracks mu
    # the VAE has to keep mu in its conventional latents; the shift-VAE does not
    assert s["vae_max_latent_r2_mu"] > s["shift_vae_max_latent_r2_mu"] + 0.3
    assert s["shift_vae_max_abs_r_sigma"] >= 0.9  # a conventional latent tracks the period


def test_fig3_shift_recovery_fails_at_large_spread_and_noise(tmp_path):
    numbers = _reproduce(tmp_path, "fig3")
    r2 = np.array(numbers["results"]["diagram"]["r2"])  # [spread, noise]
    assert r2[0, 0] >= 0.8  # small spread, no noise: the shift is recovered
    assert r2[-1, -1] < r2[0, 0] - 0.5  # large spread, strong noise: it is not
    fit = numbers["results"]["summary"]
    # over the shift-VAE latent plane the fitted offset hardly moves; over the VAE's it does
    assert fit["shift_vae_mu_hat_std"] < 0.5 * fit["vae_mu_hat_std"]


def test_fig4_shift_vae_latents_collapse_on_the_lattice_and_the_vae_ones_do_not(tmp_path):
    s = _reproduce(tmp_path, "fig4")["results"]["summary"]
    assert max(s["shift_vae_latent_std"]) < 0.1
    assert max(s["vae_latent_std"]) > 0.3


def test_fig7_and_fig8_run_on_any_image_path(tmp_path):
    path = tmp_path / "lattice.npy"
    np.save(path, modulated_lattice(size=96, seed=1).data)
    fig7 = _reproduce(tmp_path, "fig7", "--image", str(path))
    assert fig7["config"]["image"].endswith("lattice.npy")
    fig8 = _reproduce(tmp_path, "fig8", "--image", str(path))
    heat = np.array(fig8["results"]["physicality"], dtype=float)
    assert heat.shape == (2, 2) and np.isfinite(heat).all()
    assert ((heat > 0) & (heat <= 1)).all()


def test_unknown_figure_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "fig9", "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
