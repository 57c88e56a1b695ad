"""The categorical latent: the mixture prior's KL and posterior, training, labels, saving."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score

import shiftvae as sv
from shiftvae.model.classes import MixturePrior


def two_kinds(n=600, length=40, seed=0):
    """1D patches of two kinds (one wide bump, or two narrow ones) at random shifts."""
    rng = np.random.default_rng(seed)
    x = np.arange(length)
    kinds = rng.integers(0, 2, n)
    shift = rng.uniform(-6, 6, n)[:, None]
    one = np.exp(-((x - 20 - shift) ** 2) / 8)
    two = np.exp(-((x - 17 - shift) ** 2) / 4) + np.exp(-((x - 23 - shift) ** 2) / 4)
    data = np.where(kinds[:, None] == 0, one, two) * 0.8 + rng.normal(0, 0.05, (n, length))
    return np.clip(data, 0, 1).astype(np.float32), kinds


def a_mixture(k=3, dim=2, seed=0):
    prior = MixturePrior(k, dim)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        prior.mean.copy_(torch.randn(k, dim, generator=gen) * 2)
        prior.log_std.copy_(torch.randn(k, dim, generator=gen) * 0.3)
        prior.logits.copy_(torch.randn(k, generator=gen))
    assert not prior.ready
    prior.load_state_dict({**prior.state_dict(), "count": torch.tensor(k)})  # as model.pt does
    assert prior.ready and prior.classes == k
    return prior


def test_the_mixture_kl_is_the_class_sum_of_component_kls_plus_the_class_kl():
    prior = a_mixture()
    mean = torch.randn(5, 2, generator=torch.Generator().manual_seed(1))
    std = torch.rand(5, 2, generator=torch.Generator().manual_seed(2)) + 0.2
    kl, _ = prior.kl(mean, std)
    log_pi = torch.log_softmax(prior.logits, 0)
    component = []
    for c in range(3):
        var = torch.exp(2 * prior.log_std[c])
        d = mean - prior.mean[c]
        component.append(
            0.5 * ((std**2 + d**2) / var - 1 - 2 * std.log() + 2 * prior.log_std[c]).sum(1)
        )
    component = torch.stack(component, 1)
    q = prior.log_posterior(mean, std).exp()
    expected = (q * (component + q.log() - log_pi)).sum(1)
    torch.testing.assert_close(kl, expected)
    torch.testing.assert_close(q.sum(1), torch.ones(5))
    # a labelled input: its own component's KL minus log pi, and a cross-entropy
    labels = torch.tensor([2, -1, 0, -1, 1])
    kl_l, loss = prior.kl(mean, std, labels, label_weight=3.0)
    known = labels >= 0
    own = component[known, labels[known]] - log_pi[labels[known]]
    torch.testing.assert_close(kl_l[known], own)
    torch.testing.assert_close(kl_l[~known], expected[~known])
    torch.testing.assert_close(loss[known], -3.0 * q[known, labels[known]].log())
    assert (loss[~known] == 0).all()


def test_a_model_with_classes_separates_two_kinds_and_its_probabilities_sum_to_one():
    data, kinds = two_kinds()
    model = sv.ShiftVAE((40,), latent_dim=2, classes=2, likelihood="gaussian", gaussian_std=0.05)
    model.fit(data, epochs=60, progress=False)
    enc = model.encode(data)
    assert enc.class_probs.shape == (600, 2)
    np.testing.assert_allclose(enc.class_probs.sum(1), 1.0, atol=1e-6)
    assert adjusted_rand_score(kinds, enc.classes) > 0.9  # measured 0.99 (seeds 0, 1)
    motifs = model.class_motifs()
    assert motifs.shape == (2, 40)
    assert np.abs(motifs[0] - motifs[1]).max() > 0.1  # the two kinds draw differently


def test_labels_fix_which_class_is_which_and_survive_saving(tmp_path):
    data, kinds = two_kinds()
    labels = np.full(len(data), -1)
    for kind, name in ((0, 1), (1, 0)):  # kind 0 called class 1, and kind 1 class 0
        labels[np.flatnonzero(kinds == kind)[:5]] = name
    model = sv.ShiftVAE(
        (40,), latent_dim=2, classes=2, likelihood="gaussian", gaussian_std=0.05, seed=1
    )
    model.fit(data, epochs=60, progress=False, labels=labels)
    found = model.encode(data).classes
    unknown = labels < 0
    assert (found[unknown] == 1 - kinds[unknown]).mean() > 0.95  # the names given, not 0/1
    model.save(tmp_path / "m.pt")
    again = sv.load_model(tmp_path / "m.pt")
    np.testing.assert_allclose(again.encode(data).class_probs, model.encode(data).class_probs)


@pytest.mark.parametrize(
    ("labels", "phrase"),
    [
        (np.zeros(5, int), "600 integers"),
        (np.full(600, 2), "classes 0 to 1"),
        (np.full(600, 0.5), "600 integers"),
    ],
)
def test_bad_labels_are_refused_in_one_sentence(labels, phrase):
    data, _ = two_kinds()
    model = sv.ShiftVAE((40,), classes=2)
    with pytest.raises(sv.InputError, match=phrase):
        model.fit(data, epochs=1, progress=False, labels=labels)


def test_classes_need_two_or_more_and_labels_need_classes():
    with pytest.raises(sv.InputError, match="classes must be 0"):
        sv.ShiftVAE((40,), classes=1)
    data, _ = two_kinds(n=50)
    with pytest.raises(sv.InputError, match="labels need a model with classes"):
        sv.ShiftVAE((40,)).fit(data, epochs=1, progress=False, labels=np.zeros(50, int))
    with pytest.raises(sv.InputError, match="no trained classes"):
        sv.ShiftVAE((40,), classes=2).class_motifs()


def test_without_classes_the_loss_is_the_papers_elbo():
    """The mixture's code path leaves the KL of a model without classes N(0, I)'s."""
    from shiftvae.model.likelihood import kl_standard_normal, reconstruction_nll

    data, _ = two_kinds(n=20)
    model = sv.ShiftVAE((40,), seed=3)
    module = model.module_
    x = torch.as_tensor(data)
    noise = torch.randn(20, module.layout.size, generator=torch.Generator().manual_seed(0))
    out = module.loss(x, 0.5, noise)
    mean, std = module.inference(x)
    rec = reconstruction_nll(module.generative(mean + std * noise), x, "bernoulli", 0.1).mean()
    kl = kl_standard_normal(mean, std).mean()
    torch.testing.assert_close(out.loss, rec + 0.5 * kl)
    assert module.mixture is None and model.encode(data).class_probs is None
