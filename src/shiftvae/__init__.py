"""shiftvae: shift-invariant variational autoencoders for atomically resolved images."""

from shiftvae._version import __version__
from shiftvae.errors import (
    InputError,
    MissingExtraError,
    OutputError,
    ReaderError,
    ShiftVAEError,
    TrainingDivergedError,
)
from shiftvae.types import Encoding, Image, LatentMaps, Patches

__all__ = [
    "Encoding",
    "Image",
    "InputError",
    "LatentMaps",
    "MissingExtraError",
    "OutputError",
    "Patches",
    "ReaderError",
    "ShiftVAEError",
    "TrainingDivergedError",
    "__version__",
]
