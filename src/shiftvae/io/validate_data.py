"""Checks on training data (arrays of signals or patches) shared by fit and encode."""

from __future__ import annotations

from typing import Any

import numpy as np

from shiftvae.errors import InputError


def check_training_data(X: Any, data_shape: tuple[int, ...], likelihood: str) -> np.ndarray:
    """Return ``X`` as a float32 array (N, *data_shape) or raise :class:`InputError`.

    Rejects empty data, a wrong per-sample shape, NaN/Inf values, and values outside [0, 1]
    for the Bernoulli likelihood (with advice on how to scale).
    """
    try:
        import torch

        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
    except ImportError:  # pragma: no cover - torch is a core dependency
        pass
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError) as exc:
        raise InputError(f"data could not be converted to an array: {exc}") from exc
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise InputError(f"data must be numeric, got dtype {arr.dtype}")
    if arr.size == 0:
        raise InputError(f"data is empty (shape {arr.shape}): nothing to train on")
    expected = (len(data_shape) + 1, tuple(data_shape))
    if arr.ndim == len(data_shape):
        arr = arr[None]  # a single sample
    if arr.ndim != expected[0] or tuple(arr.shape[1:]) != expected[1]:
        raise InputError(
            f"data of shape {arr.shape} does not fit a model for samples of shape "
            f"{tuple(data_shape)}: expected (N, {', '.join(map(str, data_shape))})"
        )
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    finite = np.isfinite(arr)
    if not finite.all():
        bad = int(arr.size - finite.sum())
        raise InputError(f"data contains {bad} NaN or infinite values; remove or fill them first")
    if likelihood == "bernoulli":
        lo, hi = float(arr.min()), float(arr.max())
        if lo < -1e-6 or hi > 1 + 1e-6:
            raise InputError(
                f"the Bernoulli likelihood needs data in [0, 1], but values span [{lo:.4g}, "
                f"{hi:.4g}]; scale them with (X - X.min()) / (X.max() - X.min()) or use "
                "likelihood='gaussian'"
            )
        np.clip(arr, 0.0, 1.0, out=arr)
    return arr
