"""Encode new images with a trained model, without training: one latent space for a series.

A model written by ``shiftvae fit`` (``model.pt``) carries the geometry it was trained with:
window, step, binning, patch centres, lattice and normalisation.  :func:`transfer_image`
cuts a new image the same way, encodes it and maps the latents back, so that maps of a
whole series, made with one reference model, share one latent space (same signs, order and
scale).  On the image the model was trained on it gives exactly the fit's latents.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shiftvae.errors import InputError
from shiftvae.model.vae import ShiftVAE, load_model
from shiftvae.pipeline.fit import (
    FitConfig,
    FitResult,
    as_image,
    encode_and_map,
    image_patches,
    latent_physics,
    lattice_physics,
    map_metrics,
)
from shiftvae.pipeline.geometry import Geometry
from shiftvae.types import Image

log = logging.getLogger(__name__)

_TUPLES = ("hidden", "decoder_hidden", "lattice", "reference")


def transfer_image(
    model: ShiftVAE | str | Path, image: Image | np.ndarray | str | Path
) -> FitResult:
    """Encode ``image`` with a trained ``model`` (or the path of its ``model.pt``).

    The patches are cut with the model's geometry.  When the model has a lattice, the new
    image's lattice is found again (its origin moves from frame to frame; patches on the
    columns follow it); one that differs from the model's by more than 3% is an InputError.

    Examples
    --------
    >>> result = sv.transfer_image("run1/model.pt", "frame2.dm3")  # doctest: +SKIP
    >>> sv.save_results(result, "frame2")  # doctest: +SKIP
    """
    if not isinstance(model, ShiftVAE):
        model = load_model(model)
    meta = model.metadata
    if "window" not in meta or "config" not in meta:
        raise InputError(
            "this model carries no image geometry (it was not trained by shiftvae fit or "
            "sv.fit_image): encode patches with model.encode instead"
        )
    image = as_image(image)
    tic = time.perf_counter()
    config = stored_config(meta["config"])
    geo = Geometry.from_model(meta).on_image(image, "the model's", "fit this image instead")
    patches = image_patches(image, geo, config)
    if tuple(patches.data.shape[1:]) != tuple(model.data_shape):
        raise InputError(
            f"the model takes patches of {tuple(model.data_shape)} px but this image gives "
            f"{tuple(patches.data.shape[1:])}: it was trained with another window or binning"
        )
    timings = {"patches": time.perf_counter() - tic, "train": 0.0}
    tic = time.perf_counter()
    encoding, maps = encode_and_map(model, patches, geo, config)
    timings["encode_and_map"] = time.perf_counter() - tic
    metrics = map_metrics(maps, model)
    period = None if geo.lattice is None else float(geo.lattice.periods.min())
    geo = geo.with_(transfer=True, period_px=period)
    physics = lattice_physics(image, geo, metrics, config.reference)
    latent_physics(model, encoding, image, geo, metrics)
    return FitResult(image, patches, model, encoding, maps, config, metrics, timings, geo, *physics)


@dataclass
class Prediction:
    """The classes and properties of a new image under a trained model (:func:`predict`).

    Attributes
    ----------
    classes : ndarray of int (rows, cols), or None
        The most probable class of every cell (None: the model has no classes).
    probabilities : ndarray (K, rows, cols), or None
        q(c | x) of every class in every cell.
    latents : ndarray (l, rows, cols)
        The conventional latents' means.
    centers : ndarray (rows, cols, 2)
        The patch centres, (row, col) px of the image.
    values, value_std : dict of name -> ndarray (rows, cols)
        With properties (``fit --values``): each property's prediction and its error bar.
    """

    classes: np.ndarray | None
    probabilities: np.ndarray | None
    latents: np.ndarray
    centers: np.ndarray
    values: dict[str, np.ndarray] = field(default_factory=dict)
    value_std: dict[str, np.ndarray] = field(default_factory=dict)


def predict(model: ShiftVAE | str | Path, image: Image | np.ndarray | str | Path) -> Prediction:
    """The classes and properties of every cell of ``image`` under a trained ``model`` with
    classes or properties (or the path of its ``model.pt``), without training: the image is
    cut and encoded as :func:`transfer_image` does.

    Examples
    --------
    >>> found = sv.predict("run1/model.pt", "frame2.dm3")  # doctest: +SKIP
    >>> found.classes.shape == found.probabilities.shape[1:]  # doctest: +SKIP
    True
    """
    if not isinstance(model, ShiftVAE):
        model = load_model(model)
    if not model.config.classes and not model.config.properties:
        raise InputError(
            "this model has no classes and no properties: fit it with --classes K or "
            "--values FILE.csv to predict them"
        )
    maps = transfer_image(model, image).maps
    names = maps.value_names
    values = {} if maps.values is None else dict(zip(names, maps.values))
    stds = {} if maps.value_std is None else dict(zip(names, maps.value_std))
    return Prediction(maps.classes, maps.class_probs, maps.z, maps.centers, values, stds)


def stored_config(values: dict[str, Any]) -> FitConfig:
    """The FitConfig stored in a model's metadata (sequences back to tuples)."""
    values = dict(values)
    for key in _TUPLES:
        if isinstance(values.get(key), list):
            values[key] = _as_tuple(values[key])
    return FitConfig(**values)


def _as_tuple(value: Any) -> Any:
    return tuple(_as_tuple(v) for v in value) if isinstance(value, list | tuple) else value


__all__ = ["Prediction", "predict", "stored_config", "transfer_image"]
