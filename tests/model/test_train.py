"""Beta schedule, divergence guard and device selection."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import shiftvae as sv
from shiftvae.data.patches import extract_patches
from shiftvae.model.module import ShiftVAEModule
from shiftvae.model.pose import canonical_lattice
from shiftvae.model.train import BetaSchedule, resolve_device
from shiftvae.synthetic.grains import polycrystal
from shiftvae.types import Image


def test_linear_ramp_then_constant():
    s = BetaSchedule(0.1, 1.0, ramp=0.5)
    values = [s(e, 10) for e in range(10)]
    assert values[0] == pytest.approx(0.1)
    assert values[4] == pytest.approx(1.0)
    assert values[4:] == [pytest.approx(1.0)] * 6
    assert all(a <= b for a, b in itertools.pairwise(values))


def test_schedule_from_values():
    assert BetaSchedule.from_value(2.0)(5, 10) == 2.0
    assert BetaSchedule.from_value((1.0, 3.0))(9, 10) == pytest.approx(3.0)
    for bad in (0.0, -1.0, (1.0, float("nan")), (1.0, 2.0, 3.0)):
        with pytest.raises(sv.InputError, match="beta"):
            BetaSchedule.from_value(bad)
    with pytest.raises(sv.InputError, match="ramp"):
        BetaSchedule(1.0, 1.0, ramp=0.0)


def test_history_records_the_schedule(sines):
    X, _ = sines
    model = sv.ShiftVAE((40,), hidden=(16, 16))
    history = model.fit(X, epochs=4, beta=(0.5, 2.0), progress=False)
    np.testing.assert_allclose(history.beta, [0.5, 1.0, 1.5, 2.0])


def test_divergence_names_the_epoch_and_keeps_weights(sines):
    X, _ = sines
    model = sv.ShiftVAE((40,), likelihood="gaussian", hidden=(16, 16))
    with pytest.raises(sv.TrainingDivergedError, match=r"epoch \d+ of 3.*lower learning rate"):
        model.fit(X * 1e30, epochs=3, lr=1e6, progress=False)
    assert all(torch.isfinite(p).all() for p in model.module_.parameters())  # on any device


def test_bad_fit_options(sines):
    X, _ = sines
    model = sv.ShiftVAE((40,), hidden=(16, 16))
    for kwargs, phrase in [
        ({"epochs": 0}, "epochs"),
        ({"batch_size": -1}, "batch_size"),
        ({"lr": 0.0}, "learning rate"),
        ({"device": "tpu"}, "device"),
    ]:
        with pytest.raises(sv.InputError, match=phrase):
            model.fit(X, progress=False, **kwargs)


def test_resolve_device_auto_is_cpu_without_gpu():
    import torch

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


def test_resume_from_checkpoint_equals_uninterrupted_run(tmp_path, sines):
    X, _ = sines
    full = sv.ShiftVAE((40,), hidden=(16, 16), seed=2)
    full.fit(X, epochs=6, batch_size=64, progress=False, device="cpu")

    ckpt = tmp_path / "ckpt.pt"
    stopped = sv.ShiftVAE((40,), hidden=(16, 16), seed=2)

    def interrupt(epoch, history):
        if epoch == 3:  # Ctrl-C during the 5th epoch is the same as after the 4th
            raise KeyboardInterrupt

    import torch

    from shiftvae.model.train import BetaSchedule, TrainOptions, train_module

    opts = TrainOptions(
        epochs=6,
        batch_size=64,
        beta=BetaSchedule(0.1, 1.0),
        seed=2,
        progress=False,
        checkpoint_path=ckpt,
        checkpoint_every=2,
        on_epoch_end=interrupt,
    )
    data = torch.as_tensor(X)
    with pytest.raises(KeyboardInterrupt):
        train_module(stopped.module_, data, opts)
    assert ckpt.is_file()

    resumed = sv.ShiftVAE((40,), hidden=(16, 16), seed=2)
    history = resumed.fit(
        X, epochs=6, batch_size=64, progress=False, device="cpu", checkpoint=ckpt, resume=True
    )
    assert len(history) == 6
    np.testing.assert_array_equal(resumed.encode(X).z_mean, full.encode(X).z_mean)
    assert history.loss == full.history_.loss


def test_interrupt_between_an_epochs_record_and_its_snapshot_keeps_one_record_per_epoch(
    tmp_path, sines, monkeypatch
):
    """Ctrl-C right after epoch 3 was recorded but before it was snapshotted: the saved
    history has the saved epochs only, and the resumed run records each epoch once."""
    import shiftvae.model.train

    X, _ = sines
    real = shiftvae.model.train._snapshot
    calls = itertools.count()

    def interrupted(module, optimizer, gen, epoch):
        if epoch == 3 and next(calls) == 0:
            raise KeyboardInterrupt
        return real(module, optimizer, gen, epoch)

    monkeypatch.setattr(shiftvae.model.train, "_snapshot", interrupted)
    ckpt = tmp_path / "ckpt.pt"
    model = sv.ShiftVAE((40,), seed=0)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, epochs=6, progress=False, device="cpu", checkpoint=ckpt)
    state = shiftvae.model.train.load_checkpoint(ckpt)
    assert state["epoch"] == 2 and len(state["history"]["loss"]) == 2
    assert len(model.history_) == 2
    model.fit(X, epochs=6, progress=False, device="cpu", checkpoint=ckpt, resume=True)
    assert len(model.history_) == 6
    whole = sv.ShiftVAE((40,), seed=0)
    whole.fit(X, epochs=6, progress=False, device="cpu")
    np.testing.assert_array_equal(model.history_.beta, whole.history_.beta)


SQUARE = canonical_lattice(4, 8.0)
PREPARED_MODELS = {
    "pose": {"rotation": 4, "scale": "isotropic", "period": 8.0},
    "pose on the cell": {
        "rotation": 4,
        "scale": "isotropic",
        "period": 8.0,
        "position": "torus",
        "lattice": SQUARE,
    },
    "lattice coder": {"position": "torus", "lattice": SQUARE, "encoder": "lattice"},
    "lattice phase, MLP encoder": {"position": "torus", "lattice": SQUARE, "encoder": "mlp"},
}


@pytest.mark.parametrize("name", list(PREPARED_MODELS))
def test_training_prepares_the_weight_free_inputs_once_and_they_match(name, monkeypatch):
    """The pose anchor and the lattice fit do not depend on the weights: training computes
    them once per fit, a batch at a time, and rows of that table give the inference a
    shuffled batch would compute for itself."""
    image, _ = polycrystal(size=96, cell=8.0, grains=2, strain=0.03, seed=2)
    x = extract_patches(Image(image, None, "px", "g"), window=20, step=4).data  # 400
    model = sv.ShiftVAE((20, 20), hidden=(32, 32), seed=0, **PREPARED_MODELS[name])
    calls = []
    original = ShiftVAEModule.prepare
    monkeypatch.setattr(
        ShiftVAEModule,
        "prepare",
        lambda self, b, anchor=None: calls.append(len(b)) or original(self, b, anchor),
    )
    model.fit(x, epochs=3, batch_size=100, progress=False)
    assert calls == [100, 100, 100, 100]  # each batch of patches once: not at every step
    module = model.module_
    data = torch.as_tensor(x, device=next(module.parameters()).device)
    prepared = torch.cat([original(module, chunk) for chunk in data.split(100)])
    idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:64]
    idx = idx.to(data.device)
    batch = data.index_select(0, idx)
    with torch.no_grad():
        fresh = module.inference(batch)
        cached = module.inference(batch, prepared.index_select(0, idx))
    for a, b in zip(fresh, cached):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_a_model_without_weight_free_inputs_prepares_nothing():
    model = sv.ShiftVAE((12, 12), hidden=(16, 16), seed=0)
    model.fit(np.random.default_rng(0).random((50, 12, 12), np.float32), epochs=1, progress=False)
    assert not model.module_.prepares
    assert model.module_.prepare(torch.zeros(2, 12, 12)) is None
