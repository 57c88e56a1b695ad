"""shiftvae: shift-invariant variational autoencoders for atomically resolved images.

Examples
--------
>>> import shiftvae as sv
>>> X, factors = sv.synthetic.sine_waves(n=500, length=100, seed=0)
>>> model = sv.ShiftVAE(data_shape=(100,), latent_dim=2, seed=0)
>>> history = model.fit(X, epochs=2, progress=False)
>>> enc = model.encode(X)  # enc.shift_mean is in pixels
"""

from shiftvae import synthetic
from shiftvae._version import __version__
from shiftvae.analysis.manifold import LatentTraversal, latent_traversal
from shiftvae.analysis.maps import latent_maps, phase_fractions
from shiftvae.analysis.smoothness import physicality, smoothness
from shiftvae.analysis.strain import StrainMaps, strain_maps
from shiftvae.data.patches import estimate_period, extract_patches, iter_patch_batches
from shiftvae.errors import (
    DeviceMemoryError,
    InputError,
    MissingExtraError,
    OutputError,
    ReaderError,
    SchedulerLostError,
    ShiftVAEError,
    TrainingDivergedError,
)
from shiftvae.io.readers import read_image
from shiftvae.lattice.estimate import Lattice, NoLatticeError, estimate_lattice
from shiftvae.model.train import BetaSchedule, History
from shiftvae.model.vae import ShiftVAE, load_model
from shiftvae.pipeline.fit import FitConfig, FitResult, fit_image
from shiftvae.pipeline.geometry import Geometry
from shiftvae.pipeline.series import SeriesResult, fit_images
from shiftvae.pipeline.transfer import Prediction, predict, transfer_image
from shiftvae.report.fit_outputs import save_results
from shiftvae.results import Results, load_results
from shiftvae.runs.batch import fit_many
from shiftvae.runs.sweep import sweep
from shiftvae.runs.tune import tune
from shiftvae.types import Encoding, Image, LatentMaps, Patches

__all__ = [
    "BetaSchedule",
    "DeviceMemoryError",
    "Encoding",
    "FitConfig",
    "FitResult",
    "Geometry",
    "History",
    "Image",
    "InputError",
    "LatentMaps",
    "LatentTraversal",
    "Lattice",
    "MissingExtraError",
    "NoLatticeError",
    "OutputError",
    "Patches",
    "Prediction",
    "ReaderError",
    "Results",
    "SchedulerLostError",
    "SeriesResult",
    "ShiftVAE",
    "ShiftVAEError",
    "StrainMaps",
    "TrainingDivergedError",
    "__version__",
    "estimate_lattice",
    "estimate_period",
    "extract_patches",
    "fit_image",
    "fit_images",
    "fit_many",
    "iter_patch_batches",
    "latent_maps",
    "latent_traversal",
    "load_model",
    "load_results",
    "phase_fractions",
    "physicality",
    "predict",
    "read_image",
    "save_results",
    "smoothness",
    "strain_maps",
    "sweep",
    "synthetic",
    "transfer_image",
    "tune",
]
