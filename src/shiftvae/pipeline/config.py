"""The options of an image fit, as one frozen value (recorded in results.h5 and model.pt).

Each field's rule, flag and help are in :mod:`shiftvae.pipeline.options`; its default is here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["FitConfig"]


@dataclass(frozen=True)
class FitConfig:
    """Every option of an image fit (recorded in results.h5 and model.pt).

    ``window``/``step`` are in pixels of the original image (None: ~2.5 lattice periods
    from the FFT, and window // 2 or less, see :func:`auto_step`).  ``binning`` averages
    bin x bin pixel blocks before cutting patches ("auto": the smallest factor that brings
    the window to <= 24 px), which keeps training fast without changing the patch grid.
    ``coord_frequency`` is the decoder's sine first layer in cycles per patch side ("auto":
    twice the lattice periods per window, so the lattice and its second harmonic are drawn
    from the start; None: the paper's tanh layer), see :class:`shiftvae.ShiftVAE`.
    ``epochs="auto"`` trains for at least 2500 optimisation steps (50 to 400 epochs, see
    :func:`auto_epochs`), so that a small image gets as many updates as a large one.

    ``lattice`` is "auto" (found by :func:`~shiftvae.lattice.estimate.estimate_lattice`), None
    (the paper's model, no lattice) or two (row, col) vectors in pixels of the image.  With a
    lattice, the "auto" ``position``, ``decoder`` and ``encoder`` are the torus position
    modulo the unit cell and the lattice Fourier coder; the patches are centred on the
    columns of the brightest sublattice (``centers="auto"``: "atoms" from 8 x 8 cells up,
    else the square grid); the window is 1.5 times the longer period, and patches keep
    their pixels up to 96 px per side.  Without one they are the paper's Gaussian shift and
    MLP encoder with the canvas decoder (patches keep their pixels up to 64 px per side;
    ``decoder="coordinate"`` is the paper's decoder); an image with no periodicity at all
    gets a 32 px window (at most a quarter of its smaller side), no position latent, the
    Fourier coder over the window, and a warning.

    ``columns`` is a CSV file of column positions found elsewhere (Atomap's, or a
    ``columns.csv`` of an earlier fit): the patches are then centred on them, each lattice
    site moved onto the nearest listed column (:mod:`shiftvae.io.column_positions`).

    ``rotation`` adds an orientation latent with that symmetry order ("auto": 4 or 6 from
    the lattice's shape, else from the patches' power spectra, see
    :func:`~shiftvae.pipeline.geometry.resolve_pose`) and ``scale`` a relative lattice parameter
    ("isotropic", or "axes" for one per motif axis).  With either, the window is 2.5 periods
    of the strongest planes, the patches lie on the square grid, and the model is the
    Gaussian shift, the MLP encoder and the canvas decoder: a polycrystal's grains share no
    lattice for the torus position to live on.

    ``classes`` K gives every patch one of K classes, a Gaussian component of the conventional
    latents' prior trained with them (:mod:`shiftvae.model.classes`; "auto": K from 2 to 6,
    the best separated in the latents); ``labels`` is a CSV of
    a few known classes (row, col, class), each given to the patch whose centre is nearest.
    ``values`` is a CSV of a few measured values (row, col, one column per property): a
    regression head on the latents learns them and predicts each property in every cell
    (:mod:`shiftvae.model.regression`).

    ``background`` is the std (px) of the Gaussian blur subtracted from the image before
    cutting patches, so that a thickness ramp or a detector gradient does not take a latent
    ("auto": 8 periods of the lattice model, none otherwise; None: keep it).  ``likelihood``
    "auto" is a Gaussian whose std is the image's own noise (``noise="auto"``:
    :func:`~shiftvae.data.noise.estimate_noise` on the patches) for the lattice model, so
    that a field just above the noise is encoded, and the paper's Bernoulli otherwise.
    """

    window: int | None = None
    step: int | None = None
    normalize: Literal["image", "patch"] | None = "image"
    binning: int | Literal["auto"] = "auto"
    latent_dim: int = 2
    shift: bool = True
    shift_scale: float = 0.5
    likelihood: Literal["auto", "bernoulli", "gaussian"] = "auto"
    noise: float | Literal["auto"] = "auto"
    background: float | Literal["auto"] | None = "auto"
    hidden: tuple[int, ...] = (128, 128)
    decoder_hidden: tuple[int, ...] | None = None
    encoder: Literal["auto", "mlp", "conv", "lattice"] = "auto"
    position: Literal["auto", "gaussian", "torus"] = "auto"
    decoder: Literal["auto", "coordinate", "lattice", "canvas"] = "auto"
    lattice: Literal["auto"] | tuple | list | None = "auto"
    centers: Literal["auto", "grid", "lattice", "atoms"] = "auto"
    columns: str | None = None
    reference: tuple[int, int, int, int] | None = None
    coord_frequency: float | Literal["auto"] | None = "auto"
    epochs: int | Literal["auto"] = "auto"
    batch_size: int = 100
    beta_start: float = 0.1
    beta_end: float = 1.0
    lr: float = 1e-3
    phases: int | Literal["auto"] | None = "auto"
    seed: int = 0
    device: str = "auto"
    precision: Literal["fp32", "bf16"] = "fp32"
    rotation: int | Literal["auto"] | None = None
    scale: Literal["isotropic", "axes"] | None = None
    classes: int | Literal["auto"] | None = None
    labels: str | None = None
    values: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
