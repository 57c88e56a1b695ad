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
        prior.mean[:k] = torch.randn(k, dim, generator=gen) * 2
        prior.log_std[:k] = torch.randn(k, dim, generator=gen) * 0.3
        prior.logits[:k] = torch.randn(k, generator=gen)
    assert not prior.ready
    prior.load_state_dict({**prior.state_dict(), "count": torch.tensor(k)})  # as model.pt does
    assert prior.ready and prior.classes == k
    return prior


def test_a_class_of_several_components_sums_them():
    prior = MixturePrior(2, 2)
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        prior.mean[:4] = torch.randn(4, 2, generator=gen) * 2
        prior.logits[:4] = torch.randn(4, generator=gen)
    owner = torch.tensor([0, 1, 1, 0, *prior.owner[4:].tolist()])
    prior.load_state_dict({**prior.state_dict(), "count": torch.tensor(4), "owner": owner})
    assert prior.classes == 2
    mean = torch.randn(6, 2, generator=gen)
    std = torch.full((6, 2), 0.5)
    joint = prior.joint(mean, std)  # (6, 4) components
    part = torch.log_softmax(joint, 1).exp()
    q = prior.log_posterior(mean, std).exp()
    torch.testing.assert_close(q[:, 0], part[:, 0] + part[:, 3])
    torch.testing.assert_close(q.sum(1), torch.ones(6))
    labels = torch.tensor([1, -1, 0, 0, -1, 1])
    kl, loss = prior.kl(mean, std, labels, label_weight=1.0)
    own = -torch.logsumexp(joint[:, [1, 2]], 1)
    torch.testing.assert_close(kl[0], own[0])
    torch.testing.assert_close(kl[1], -torch.logsumexp(joint[1], 0))
    torch.testing.assert_close(loss[2], -q[2, 0].log())


def test_labelled_components_go_to_the_class_of_their_labels():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [4, 0], [8, 0], [0, 6], [4, 6], [8, 6]], float)
    means = np.concatenate([c + rng.normal(0, 0.3, (50, 2)) for c in centres])
    truth = np.repeat([0, 0, 0, 1, 1, 1], 50)  # each class a row of three blobs
    labels = np.full(len(means), -1)
    labels[[0, 100, 160, 260]] = truth[[0, 100, 160, 260]]  # 4 labels, not every blob
    prior = MixturePrior(2, 2)
    prior.start(means, labels, seed=0)
    q = prior.log_posterior(torch.as_tensor(means, dtype=torch.float32), torch.full((300, 2), 0.1))
    assert prior.classes == 2 and (q.argmax(1).numpy() == truth).mean() > 0.95


def test_a_model_saved_with_one_component_per_class_loads():
    prior = a_mixture()
    state = {k: v for k, v in prior.state_dict().items() if k != "owner"}
    state = {**state, **{n: state[n][:3] for n in ("logits", "mean", "log_std")}}
    back = MixturePrior(3, 2)
    back.load_state_dict(state)
    x, s = torch.randn(4, 2), torch.full((4, 2), 0.3)
    torch.testing.assert_close(back.log_posterior(x, s), prior.log_posterior(x, s))


def test_the_mixture_kl_is_the_class_sum_of_component_kls_plus_the_class_kl():
    prior = a_mixture()
    mean = torch.randn(5, 2, generator=torch.Generator().manual_seed(1))
    std = torch.rand(5, 2, generator=torch.Generator().manual_seed(2)) + 0.2
    kl, _ = prior.kl(mean, std)
    log_pi = torch.log_softmax(prior.logits[:3], 0)
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


def test_a_fit_of_a_few_epochs_still_has_classes():
    """95% of 5 epochs rounds to 5: the mixture once never started, and no class came out."""
    x, _ = two_kinds(n=200)
    model = sv.ShiftVAE((x.shape[1],), classes=2, hidden=(16, 16), seed=0)
    model.fit(x, epochs=5, progress=False)
    probs = model.encode(x).class_probs
    assert probs is not None and probs.shape == (200, 2)
