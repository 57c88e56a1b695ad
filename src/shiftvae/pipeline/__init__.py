"""The fit of an image, a series and a transferred model, and what a fit decides.

``geometry.py`` resolves the window, step, lattice, model parts and pose of a fit
(:class:`Geometry`); ``fit.py`` cuts the patches, trains, encodes and maps
(:func:`fit_image`); ``series.py`` fits several images in one latent space; ``transfer.py``
applies a trained model to a new image.
"""

from shiftvae.pipeline.fit import FitConfig, FitResult, fit_image
from shiftvae.pipeline.geometry import Geometry, resolve_geometry

__all__ = ["FitConfig", "FitResult", "Geometry", "fit_image", "resolve_geometry"]
