"""shiftvae: shift-invariant variational autoencoders for atomically resolved images.

Examples
--------
>>> import shiftvae as sv
>>> X, factors = sv.synthetic.sine_waves(n=500, length=100, seed=0)
>>> model = sv.ShiftVAE(data_shape=(100,), latent_dim=2, seed=0)
>>> history = model.fit(X, epochs=2, progress=False)
>>> enc = model.encode(X)  # enc.shift_mean is in pixels
"""

from shiftvae._version import __version__
from shiftvae.analysis.manifold import LatentTraversal, latent_traversal
from shiftvae.data import synthetic
from shiftvae.errors import (
    InputError,
    MissingExtraError,
    OutputError,
    ReaderError,
    ShiftVAEError,
    TrainingDivergedError,
)
from shiftvae.model.vae import ShiftVAE, load_model
from shiftvae.train import BetaSchedule, History
from shiftvae.types import Encoding, Image, LatentMaps, Patches

__all__ = [
    "BetaSchedule",
    "Encoding",
    "History",
    "Image",
    "InputError",
    "LatentMaps",
    "LatentTraversal",
    "MissingExtraError",
    "OutputError",
    "Patches",
    "ReaderError",
    "ShiftVAE",
    "ShiftVAEError",
    "TrainingDivergedError",
    "__version__",
    "latent_traversal",
    "load_model",
    "synthetic",
]
