"""User-facing shift-VAE: validation, ``fit``, ``encode``, ``decode``, save and load.

Longer than most modules (about 700 lines) for a reason: it is one class, the scikit-learn
shaped estimator, whose methods are one interface a reader takes together; the network,
training loop and parts it drives live in the modules beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from shiftvae._version import __version__
from shiftvae.errors import DeviceMemoryError, InputError
from shiftvae.lattice.registration import Registration, register
from shiftvae.model.classes import AUTO_CLASSES
from shiftvae.model.likelihood import mean_image
from shiftvae.model.module import ModelConfig, ShiftVAEModule
from shiftvae.model.pose import SCALE_MODES, check_symmetry_order
from shiftvae.model.train import (
    BetaSchedule,
    History,
    TrainOptions,
    resolve_device,
    save_state,
    train_module,
)
from shiftvae.types import Encoding, Patches

ArrayLike = Any  # numpy array, torch tensor, Patches, or nested sequences
CANVAS_WARMUP = 0.2  # share of the epochs the canvas decoder learns with the position alone


class ShiftVAE:
    """Shift-invariant VAE for 1D signals ``(N, L)`` or image patches ``(N, H, W)``.

    The encoder maps each input to ``d`` shift latents (d = 1 for signals, 2 for images) and
    ``latent_dim`` conventional latents; the coordinate decoder evaluates an MLP on the pixel
    grid shifted by ``shift_scale * dr``.  With ``shift=False`` it is a plain VAE with the same
    encoder and decoder.

    loss = E_q[-log p(x | z, s)] + beta(t) * KL(q(z, s | x) || N(0, I))

    Parameters
    ----------
    data_shape : tuple of int
        Shape of one input: ``(L,)`` or ``(H, W)``.
    latent_dim : int
        Number of conventional latents ``l`` (>= 1).
    shift : bool
        Learn shift latents (shift-VAE); False gives the plain VAE baseline.
    shift_scale : float
        ``k`` in (0, 1]: how far (in half-widths of the patch) one prior unit shifts the grid.
    likelihood : {"bernoulli", "gaussian"}
        Bernoulli on logits (data in [0, 1], the paper's choice) or Gaussian.
    hidden : tuple of int
        Widths of the hidden layers of the encoder, and of the decoder unless
        ``decoder_hidden`` is given.  The decoder's first width is its coordinate layer:
        ``(128, 128)`` is a coordinate layer and one hidden layer, as pyroVED's
        ``hidden_dim_d=[128]``.
    decoder_hidden : tuple of int, optional
        Widths of the decoder's layers, if not ``hidden`` (pyroVED's default decoder,
        ``hidden_dim_d=[128, 128]``, is ``decoder_hidden=(128, 128, 128)``).
    encoder : {"mlp", "conv"}
    gaussian_std : float
        Observation noise of the Gaussian likelihood.
    coord_frequency : float, optional
        None (default): the paper's decoder, a tanh layer on the pixel coordinates.  A
        number f: the decoder's first layer is a sine layer whose units start as plane waves
        of up to f cycles per patch side, which lets it draw sharp lattices from the first
        step (about twice the lattice periods per patch works well; ``sv.fit_image`` sets it
        from the estimated lattice period).
    position : {"gaussian", "torus"}
        The paper's Gaussian shift, or the position modulo the unit cell (needs ``lattice``).
    decoder : {"coordinate", "lattice", "canvas"}
        "coordinate": the paper's MLP at every pixel (cost P * H^2 per sample).  "lattice":
        a Fourier series on the crystal's reciprocal lattice (needs ``lattice``).  "canvas":
        an MLP draws the pattern once on a canvas with a margin, a Fourier phase ramp moves
        it, the centre is the patch (cost of order H * P).
    lattice : (2, 2) array, optional
        Rows a1, a2: the primitive lattice vectors in patch pixels, (row, col).
    harmonics : int, optional
        Highest harmonic of the lattice coder (default: from the lattice).
    rotation : int, optional
        Symmetry order n (1, 2, 3, 4 or 6) of a rotation latent: an angle on the circle of
        period 360 / n degrees, wrapped-normal posterior and uniform prior, anchored by the
        patch's power spectrum (:mod:`shiftvae.model.pose`).  2D square patches, the Gaussian
        shift, and the canvas or coordinate decoder.  None or 0: no rotation.
    scale : {None, "isotropic", "axes"}
        Scale latents: one relative size, or one per motif axis (uniaxial strain); each is
        exp(``scale_range`` * u) with u ~ N(0, 1).
    scale_range : float
        Relative size change per prior unit of a scale latent (log scale).
    period : float, optional
        Lattice period in patch pixels: the orientation anchor reads this ring of the power
        spectrum (None: a broad band).
    classes : int or "auto"
        K >= 2 adds a categorical latent: each input belongs to one of K classes, a Gaussian
        component of the conventional latents' prior, summed out exactly in training
        (:mod:`shiftvae.model.classes`); "auto": K from 2 to 6, the best separated (by
        silhouette) in the latents when the classes start; 0: none.
    properties : int or sequence of str
        Continuous properties known at a few inputs (``fit(values=...)``) and predicted for
        every input by a linear head on the conventional latents, trained with the VAE
        (:mod:`shiftvae.model.regression`); their names, or how many ("value1", ...).
    seed : int
        Seeds the weights, the mini-batch order and the sampling noise.

    Examples
    --------
    >>> import shiftvae as sv
    >>> X, factors = sv.synthetic.sine_waves(n=200, length=50, seed=0)
    >>> model = sv.ShiftVAE(data_shape=(50,), seed=0)
    >>> history = model.fit(X, epochs=2, progress=False)
    >>> model.encode(X).shift_mean.shape
    (200, 1)
    """

    def __init__(
        self,
        data_shape: Sequence[int],
        latent_dim: int = 2,
        shift: bool = True,
        shift_scale: float = 0.5,
        likelihood: Literal["bernoulli", "gaussian"] = "bernoulli",
        hidden: Sequence[int] = (128, 128),
        decoder_hidden: Sequence[int] | None = None,
        encoder: Literal["mlp", "conv"] = "mlp",
        gaussian_std: float = 0.1,
        coord_frequency: float | None = None,
        position: Literal["gaussian", "torus"] = "gaussian",
        decoder: Literal["coordinate", "lattice", "canvas"] = "coordinate",
        lattice: ArrayLike | None = None,
        harmonics: int | None = None,
        rotation: int | None = None,
        scale: Literal["isotropic", "axes"] | None = None,
        scale_range: float = 0.1,
        period: float | None = None,
        classes: int | Literal["auto"] = 0,
        auto_classes: bool = False,
        properties: int | Sequence[str] = (),
        seed: int = 0,
    ):
        self.config = _make_config(
            data_shape,
            latent_dim,
            shift,
            shift_scale,
            likelihood,
            hidden,
            decoder_hidden,
            encoder,
            gaussian_std,
            coord_frequency,
            seed,
        )
        self.config = replace(
            self.config, **_lattice_options(self.config, position, decoder, lattice, harmonics)
        )
        self.config = replace(
            self.config, **_pose_options(self.config, rotation, scale, scale_range, period)
        )
        auto = auto_classes or (isinstance(classes, str) and classes == "auto")
        count = AUTO_CLASSES if isinstance(classes, str) and auto else classes
        self.config = replace(self.config, classes=_check_classes(count), auto_classes=auto)
        self.config = replace(self.config, properties=_check_properties(properties))
        with torch.random.fork_rng(devices=[]):  # seeded init without touching global state
            torch.manual_seed(self.config.seed)
            self.module_ = ShiftVAEModule(self.config)
        self.module_.eval()
        self.history_ = History()
        self.metadata: dict[str, Any] = {}
        self.registration_: Registration | None = None  # of the patches last fitted or encoded

    # -- properties -----------------------------------------------------------------------
    @property
    def data_shape(self) -> tuple[int, ...]:
        return self.config.data_shape

    @property
    def shift_dim(self) -> int:
        return self.config.shift_dim

    @property
    def device(self) -> torch.device:
        return next(self.module_.parameters()).device

    def __repr__(self) -> str:
        c = self.config
        kind = "ShiftVAE" if c.shift else "ShiftVAE(shift=False)"
        return (
            f"<{kind} data_shape={c.data_shape} latent_dim={c.latent_dim} "
            f"shift_scale={c.shift_scale} likelihood={c.likelihood!r} "
            f"epochs_trained={len(self.history_)}>"
        )

    # -- training ---------------------------------------------------------------------------
    def fit(
        self,
        X: ArrayLike,
        epochs: int = 100,
        batch_size: int = 100,
        beta: float | Sequence[float] | BetaSchedule = (0.1, 1.0),
        beta_ramp: float = 1.0,
        lr: float = 1e-3,
        device: str = "auto",
        progress: bool = True,
        seed: int | None = None,
        checkpoint: str | Path | None = None,
        checkpoint_every: int = 0,
        resume: bool = False,
        precision: Literal["fp32", "bf16"] = "fp32",
        warmup: float | Literal["auto"] = "auto",
        labels: ArrayLike | None = None,
        values: ArrayLike | None = None,
    ) -> History:
        """Train on ``X`` (N, *data_shape) and return the per-epoch history.

        Parameters
        ----------
        X : array (N, *data_shape) or Patches
            Training data; values in [0, 1] for the Bernoulli likelihood.
        epochs, batch_size : int
        beta : float or (start, end) or BetaSchedule
            KL weight; a pair ramps linearly from start to end over ``beta_ramp`` of the epochs.
        lr : float
            Adam learning rate.
        device : {"auto", "cpu", "cuda"}
        progress : bool
            Show a progress bar (in terminals and notebooks).
        seed : int, optional
            Seed of batch order and sampling noise; defaults to the model's seed.
        checkpoint : path, optional
            File for checkpoints (weights, optimiser and RNG state, history), written every
            ``checkpoint_every`` epochs (default: every 10% of training) and on Ctrl-C.
        resume : bool
            Continue from ``checkpoint`` if it exists; the result equals an uninterrupted run
            with the same seed (on the CPU).
        precision : {"fp32", "bf16"}
            "bf16" trains the decoder's per-pixel MLP, nearly all of the work, in mixed
            precision: bf16 activations and matrix products, fp32 weights, gradients and
            loss.  About twice as fast where the processor multiplies bf16 natively (AVX512-BF16
            or AMX CPUs, recent GPUs), at a loss that differs from fp32 training by about as
            much as two seeds do; elsewhere it can be slower.  Encoding stays fp32.  It
            applies to the coordinate decoder; the lattice and canvas decoders, whose work is
            a small share of a step, train in fp32 either way.
        warmup : float or "auto"
            Share of the epochs (0 to 1) decoded with the conventional latents set to zero,
            so that the decoder first learns one pattern and the position alone explains where
            it sits.  "auto": 0.2 for the canvas decoder with a position latent (without it,
            its conventional latents learn the phase of periodic patterns and never
            collapse), else 0; 0 as well when the model has been trained before.
        labels : array (N,) of int, optional
            For a model with classes: the class of each input known, -1 for the others.  The
            labelled inputs place their classes when the mixture starts, and each keeps to
            its own class (semi-supervised, :mod:`shiftvae.model.classes`).
        values : array (N,) or (N, P) of float, optional
            For a model with properties: their values where known, NaN elsewhere.  They
            train the regression head, and through it shape the latents.

        Returns
        -------
        History
            Lists ``loss``, ``reconstruction``, ``kl``, ``beta``, ``seconds`` per epoch.
        """
        data = self._check_data(X)
        _check_positive_int(epochs, "epochs")
        _check_positive_int(batch_size, "batch_size")
        if not (math.isfinite(lr) and lr > 0):
            raise InputError(f"learning rate lr must be a positive number, got {lr!r}")
        if precision not in ("fp32", "bf16"):
            raise InputError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
        warmup = self._warmup(warmup)
        options = TrainOptions(
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            beta=BetaSchedule.from_value(beta, beta_ramp),
            seed=self.config.seed if seed is None else int(seed),
            progress=progress,
            checkpoint_path=None if checkpoint is None else Path(checkpoint),
            checkpoint_every=int(checkpoint_every),
            resume=resume,
            precision=precision,
            warmup=warmup,
        )
        dev = resolve_device(device)
        self.module_.to(dev)
        tensor = torch.as_tensor(data, device=dev)
        fit = self.module_.lattice_fit
        resuming = resume and options.checkpoint_path is not None
        resuming = resuming and options.checkpoint_path.is_file()  # it restores the scale
        if fit is not None and not len(self.history_) and not resuming:
            fit.set_scale(tensor)  # the aligned motif's input scale, from the first data seen
        anchors = self._register(X, tensor)
        known = self._check_labels(labels, len(tensor), dev)
        measured = self._check_values(values, len(tensor), dev)
        train_module(self.module_, tensor, options, self.history_, anchors, known, measured)
        return self.history_

    def _check_values(self, values: ArrayLike | None, n: int, dev) -> torch.Tensor | None:
        """Values as an (N, P) float32 tensor on ``dev`` (NaN: unknown), or an InputError."""
        if values is None:
            return None
        p = len(self.config.properties)
        if not p:
            raise InputError("values need a model with properties (properties=['name', ...])")
        try:
            arr = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"values must be numbers, {n} rows of {p} (NaN: unknown)") from None
        arr = arr[:, None] if arr.ndim == 1 and p == 1 else arr
        if arr.shape != (n, p):
            raise InputError(f"values must be {n} rows of {p} (NaN: unknown), got {arr.shape}")
        if np.isinf(arr).any():
            raise InputError("values must be finite numbers, or NaN for unknown")
        if np.isnan(arr).all(0).any():
            raise InputError("every property needs a value for at least one input")
        tensor = torch.as_tensor(arr, dtype=torch.float32, device=dev)
        if not len(self.history_):
            self.module_.regression.set_scale(tensor)  # the values' units, from the first fit
        return tensor

    def _check_labels(self, labels: ArrayLike | None, n: int, dev) -> torch.Tensor | None:
        """Labels as a (N,) int64 tensor on ``dev``, or an InputError naming what is wrong."""
        if labels is None:
            return None
        k = self.config.classes
        if not k:
            raise InputError("labels need a model with classes (classes=K)")
        arr = np.asarray(labels)
        if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer):
            raise InputError(f"labels must be {n} integers (one per input, -1: unknown)")
        if arr.min() < -1 or arr.max() >= k:
            raise InputError(f"labels must be classes 0 to {k - 1}, or -1 for unknown")
        return torch.as_tensor(arr.astype(np.int64), device=dev)

    @torch.no_grad()
    def _register(self, X: ArrayLike, tensor: torch.Tensor) -> torch.Tensor | None:
        """Registered position angles (N, 2) of patches X cut from one image on a grid, or
        None (each patch's own lattice phase) for a model without the torus position on the
        lattice coder, a posed model, or inputs that are not :class:`Patches` of a grid."""
        module = self.module_
        grid = getattr(X, "grid_shape", None)
        usable = module.layout.circular_position and module.lattice_fit is not None
        usable = usable and not self.config.pose_dim
        if not usable or grid is None or min(grid) < 2 or grid[0] * grid[1] != len(tensor):
            return None
        fit = module.lattice_fit
        coef = torch.cat([fit.coefficients(x) for x in tensor.split(4096)])
        self.registration_ = register(
            fit.complex_coefficients(coef).cpu().numpy(),
            fit.hk.cpu().numpy().astype(np.int64),
            np.asarray(X.centers, dtype=np.float64) / X.binning,  # in pixels of the patches
            tuple(grid),
            np.asarray(self.config.lattice, dtype=np.float64),
        )
        return torch.as_tensor(self.registration_.angles, device=tensor.device)

    # -- inference ---------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, X: ArrayLike, batch_size: int = 4096) -> Encoding:
        """Latent means and stds of ``X``; shifts in pixels (samples) of the input grid.

        ``shift_mean[:, i]`` is the displacement of the pattern along axis i (row, col) in
        pixels, positive toward increasing index.  Inputs are processed ``batch_size`` at a
        time, so a million inputs need only one batch of working memory.
        """
        source = X.data if isinstance(X, Patches) else X
        if isinstance(source, list | tuple) or len(np.shape(source)) == len(self.data_shape):
            source = np.asarray(source)  # nested lists; a single sample becomes a batch of one
            source = source[None] if source.ndim == len(self.data_shape) else source
        n = _check_length(source, self.data_shape)
        dev = self.device
        anchors = None
        if isinstance(X, Patches):
            anchors = self._register(X, torch.as_tensor(self._check_data(X), device=dev))
        means, stds, logits, predicted = [], [], [], []
        for start in range(0, n, batch_size):
            # validated and converted one batch at a time: no full-size copy of X is made
            chunk = torch.as_tensor(
                self._check_data(source[start : start + batch_size]), device=dev
            )
            prepared = None
            if anchors is not None:
                prepared = self.module_.prepare(chunk, anchors[start : start + batch_size])
            try:
                mean, std = self.module_.inference(chunk, prepared)
                if self.module_.mixture is not None and self.module_.mixture.ready:
                    content = self.module_.layout.content_slice
                    logits.append(
                        self.module_.mixture.log_posterior(mean[:, content], std[:, content])
                    )
                if self.module_.regression is not None:
                    content = self.module_.layout.content_slice
                    both = self.module_.regression.predict(mean[:, content])
                    predicted.append(torch.stack(both).float().cpu().numpy())
            except torch.cuda.OutOfMemoryError as exc:
                raise DeviceMemoryError(
                    f"the GPU ran out of memory encoding {len(chunk)} inputs at a time; "
                    f"lower batch_size, e.g. to {max(1, batch_size // 4)}"
                ) from exc
            means.append(mean.float().cpu().numpy())
            stds.append(std.float().cpu().numpy())
        mean = np.concatenate(means).astype(np.float64)
        std = np.concatenate(stds).astype(np.float64)
        probs = None
        if logits:
            probs = torch.softmax(torch.cat(logits), 1).cpu().numpy().astype(np.float64)
        encoding = replace(self._encoding(mean, std), class_probs=probs)
        if predicted:
            both = np.concatenate(predicted, 1).astype(np.float64)
            encoding = replace(encoding, values=both[0], value_std=both[1])
        return encoding

    def _encoding(self, mean: np.ndarray, std: np.ndarray) -> Encoding:
        """The Encoding of the continuous latents' means and stds (N, size)."""
        d = self.shift_dim
        if self.config.pose_dim:
            return self._posed_encoding(mean, std)
        if self.module_.layout.circular_position:
            cell = np.asarray(self.config.lattice, dtype=np.float64)  # rows a1, a2
            frac_std = std[:, :d] / (2 * np.pi)
            return Encoding(
                z_mean=mean[:, d:],
                z_std=std[:, d:],
                shift_mean=mean[:, :d] / (2 * np.pi) @ cell,  # u a1 + v a2, |u|, |v| <= 1/2
                shift_std=np.sqrt(frac_std**2 @ cell**2),
                phase_mean=mean[:, :d],
                phase_std=std[:, :d],
            )
        px = self._pixels_per_shift_unit()  # (d,)
        return Encoding(
            z_mean=mean[:, d:],
            z_std=std[:, d:],
            shift_mean=-mean[:, :d] * px,
            shift_std=std[:, :d] * np.abs(px),
        )

    def _posed_encoding(self, mean: np.ndarray, std: np.ndarray) -> Encoding:
        """Encoding with pose latents: orientation in degrees, relative scales, and the shift
        turned into the image frame (the motif's origin at R S s)."""
        cfg, layout = self.config, self.module_.layout
        d, n = layout.position, cfg.rotation
        theta = np.zeros(len(mean))
        orientation = orientation_std = scale = scale_std = None
        if n:
            theta = mean[:, d] / n
            orientation = np.degrees(theta)
            orientation_std = np.degrees(std[:, d] / n)
        stretch = np.ones((len(mean), 2))
        if cfg.scale_dim:
            u = mean[:, layout.scale_slice]
            scale = np.exp(cfg.scale_range * u)
            scale_std = scale * cfg.scale_range * std[:, layout.scale_slice]
            stretch[:] = scale
        px = self._pixels_per_shift_unit()
        phase_mean = phase_std = None
        if layout.circular_position:  # u a1 + v a2 on the motif's lattice, then scaled
            cell = np.asarray(cfg.lattice, dtype=np.float64)
            phase_mean, phase_std = mean[:, :d], std[:, :d]
            motif = phase_mean / (2 * np.pi) @ cell * stretch
            shift_std = np.sqrt((phase_std / (2 * np.pi)) ** 2 @ cell**2) * stretch
        else:
            motif = -mean[:, :d] * px * stretch[:, :d]  # (N, d) in the motif frame, scaled
            shift_std = std[:, :d] * np.abs(px) * stretch[:, :d]
        shift = np.einsum("nij,nj->ni", _turns(theta), motif) if d else motif
        return Encoding(
            z_mean=mean[:, layout.content_slice],
            z_std=std[:, layout.content_slice],
            shift_mean=shift,
            shift_std=shift_std,
            phase_mean=phase_mean,
            phase_std=phase_std,
            orientation_mean=orientation,
            orientation_std=orientation_std,
            scale_mean=scale,
            scale_std=scale_std,
        )

    @torch.no_grad()
    def decode(
        self,
        z: ArrayLike | Encoding,
        shift: ArrayLike | None = None,
        orientation: ArrayLike | None = None,
        scale: ArrayLike | None = None,
    ) -> np.ndarray:
        """Expected image for conventional latents ``z`` (N, l) and shifts in pixels (N, d).

        ``decode(encode(X))`` reconstructs ``X``: an :class:`Encoding` supplies its
        ``z_mean``, ``shift_mean`` and, with pose latents, its orientation and scale.
        ``shift=None`` decodes without shift; ``orientation`` (N,) in degrees and ``scale``
        (N, 1 or 2) default to 0 and 1.
        Returns probabilities (Bernoulli) or means (Gaussian), shape (N, *data_shape).
        """
        if isinstance(z, Encoding):
            enc = z
            z, shift = enc.z_mean, (enc.shift_mean if shift is None else shift)
            orientation = enc.orientation_mean if orientation is None else orientation
            scale = enc.scale_mean if scale is None else scale
        z_arr = np.atleast_2d(np.asarray(z, dtype=np.float32))
        if z_arr.shape[1] != self.config.latent_dim:
            raise InputError(
                f"z must have {self.config.latent_dim} columns (the latent_dim), "
                f"got shape {z_arr.shape}"
            )
        d = self.shift_dim
        dr = np.zeros((z_arr.shape[0], d), np.float32)
        if shift is not None and d:
            s = np.atleast_2d(np.asarray(shift, dtype=np.float32))
            if s.shape != dr.shape:
                raise InputError(f"shift must have shape {dr.shape}, got {s.shape}")
            if self.module_.layout.circular_position:  # pixels to angles 2 pi (u, v)
                cell = np.asarray(self.config.lattice, dtype=np.float64)
                s = self._to_motif_frame(s, orientation, scale)
                dr = (2 * np.pi * s @ np.linalg.inv(cell)).astype(np.float32)
            else:
                s = self._to_motif_frame(s, orientation, scale)
                dr = (-s / self._pixels_per_shift_unit()).astype(np.float32)
        pose = self._pose_units(len(z_arr), orientation, scale)
        parts = [dr, pose, z_arr]
        latents = torch.as_tensor(np.concatenate(parts, axis=1), device=self.device)
        out = self.module_.generative(latents)
        return mean_image(out, self.config.likelihood).float().cpu().numpy()

    def class_motifs(self) -> np.ndarray:
        """(K, *data_shape): each class's motif, decoded at the centre of its component of the
        mixture, without shift or pose change (an InputError for a model without classes, or
        one not trained long enough to have started them)."""
        mixture = self.module_.mixture
        if mixture is None or not mixture.ready:
            raise InputError("this model has no trained classes (fit with classes=K)")
        return self.decode(mixture.mean[mixture.heaviest()].detach().cpu().numpy())

    def reconstruct(self, X: ArrayLike) -> np.ndarray:
        """Decode the encoded means of ``X`` (shift re-applied)."""
        return self.decode(self.encode(X))

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write config, weights, history and metadata to ``path`` (a ``.pt`` file)."""
        path = Path(path)
        state = {
            "format": "shiftvae-model/1",
            "version": __version__,
            "config": asdict(self.config),
            "state_dict": {k: v.cpu() for k, v in self.module_.state_dict().items()},
            "history": self.history_.as_dict(),
            "metadata": self.metadata,
        }
        return save_state(state, path)

    # -- helpers -----------------------------------------------------------------------------
    def _warmup(self, warmup: Any) -> float:
        """The position warm-up share: checked, or "auto" resolved (see :meth:`fit`)."""
        if isinstance(warmup, str) and warmup == "auto":
            canvas = self.config.decoder == "canvas" and self.config.shift
            fresh = not len(self.history_)  # a trained model continues without one
            return CANVAS_WARMUP if canvas and fresh else 0.0
        if isinstance(warmup, bool) or not isinstance(warmup, int | float) or not 0 <= warmup < 1:
            raise InputError(
                f"warmup must be 'auto' or a share of the epochs in [0, 1), got {warmup!r}"
            )
        return float(warmup)

    def _pose_units(self, n: int, orientation, scale) -> np.ndarray:
        """(n, pose_dim) latents for orientations in degrees and relative scales."""
        cfg = self.config
        cols = []
        if cfg.rotation:
            deg = np.zeros(n) if orientation is None else np.asarray(orientation, np.float64)
            cols.append(np.broadcast_to(np.radians(deg).reshape(-1) * cfg.rotation, (n,))[:, None])
        if cfg.scale_dim:
            rel = np.ones((n, cfg.scale_dim)) if scale is None else np.asarray(scale, np.float64)
            if np.any(~(rel > 0)):
                raise InputError("scale must be positive relative sizes")
            cols.append(np.broadcast_to(np.log(rel) / cfg.scale_range, (n, cfg.scale_dim)))
        return np.concatenate(cols, 1).astype(np.float32) if cols else np.zeros((n, 0), np.float32)

    def _to_motif_frame(self, pixels: np.ndarray, orientation, scale) -> np.ndarray:
        """Image-frame shifts in pixels (N, d) turned and scaled into the motif's frame,
        S^-1 R(-theta) s: the inverse of what encode reports."""
        if not self.config.pose_dim:
            return pixels
        n = len(pixels)
        theta = np.zeros(n)
        if self.config.rotation and orientation is not None:
            theta = np.broadcast_to(np.radians(np.asarray(orientation, np.float64)).ravel(), (n,))
        stretch = np.ones((n, 2))
        if self.config.scale_dim and scale is not None:
            stretch[:] = np.asarray(scale, np.float64)
        return np.einsum("nij,nj->ni", _turns(-theta), pixels) / stretch

    def _pixels_per_shift_unit(self) -> np.ndarray:
        """Pixels moved by one prior unit of each shift latent: k * (n - 1) / 2 per axis."""
        k = self.config.shift_scale
        return np.array([k * (n - 1) / 2 for n in self.data_shape][: self.shift_dim])

    def _check_data(self, X: ArrayLike) -> np.ndarray:
        from shiftvae.io.validate_data import check_training_data

        if isinstance(X, Patches):
            X = X.data
        return check_training_data(X, self.data_shape, self.config.likelihood)


def _turns(theta: np.ndarray) -> np.ndarray:
    """(N, 2, 2) rotations of (row, col) vectors by ``theta`` (N,), counter-clockwise as
    displayed (numpy twin of :func:`shiftvae.model.pose.rotation_matrix`)."""
    cos, sin = np.cos(theta), np.sin(theta)
    return np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)


def load_model(path: str | Path) -> ShiftVAE:
    """Load a model written by :meth:`ShiftVAE.save`.

    Examples
    --------
    >>> model = sv.load_model("run/model.pt")  # doctest: +SKIP
    """
    from shiftvae.errors import ReaderError

    path = Path(path)
    if not path.is_file():
        raise ReaderError(f"model file {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        cfg = dict(state["config"])
    except Exception as exc:
        raise ReaderError(f"{path} is not a shiftvae model file ({exc})") from exc
    cfg["data_shape"] = tuple(cfg["data_shape"])
    cfg["hidden"] = tuple(cfg["hidden"])
    if cfg.get("lattice") is not None:
        cfg["lattice"] = np.asarray(cfg["lattice"], dtype=np.float64)
    if cfg.get("decoder_hidden") is not None:
        cfg["decoder_hidden"] = tuple(cfg["decoder_hidden"])
    cfg["properties"] = tuple(cfg.get("properties", ()))
    model = ShiftVAE(**cfg)
    model.module_.load_state_dict(state["state_dict"])
    model.history_ = History.from_dict(state.get("history", {}))
    model.metadata = dict(state.get("metadata", {}))
    return model


def _widths(values: Any, name: str) -> tuple[int, ...]:
    """Layer widths as a tuple of positive ints, or an InputError naming ``name``."""
    try:
        widths = tuple(int(h) for h in values)
    except (TypeError, ValueError):
        widths = ()
    if not widths or min(widths) < 1:
        raise InputError(f"{name} must list positive layer widths, got {values!r}")
    return widths


def _check_length(X: ArrayLike, data_shape: tuple[int, ...]) -> int:
    """Number of samples in ``X`` without converting it (a single sample counts as one)."""
    shape = tuple(getattr(X, "shape", np.shape(X)))
    if len(shape) == len(data_shape):
        return 1
    if not shape or shape[0] == 0:
        raise InputError(f"data is empty (shape {shape}): nothing to encode")
    return int(shape[0])


def _check_positive_int(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InputError(f"{name} must be a positive integer, got {value!r}")


def _make_config(
    data_shape,
    latent_dim,
    shift,
    shift_scale,
    likelihood,
    hidden,
    decoder_hidden,
    encoder,
    gaussian_std,
    coord_frequency,
    seed,
) -> ModelConfig:
    shape = tuple(int(n) for n in np.atleast_1d(data_shape))
    if len(shape) not in (1, 2) or min(shape) < 2:
        raise InputError(f"data_shape must be (L,) or (H, W) with sides >= 2, got {data_shape!r}")
    if (
        isinstance(latent_dim, bool)
        or not isinstance(latent_dim, int | np.integer)
        or latent_dim < 1
    ):
        raise InputError(f"latent_dim must be an integer >= 1, got {latent_dim!r}")
    if not (isinstance(shift_scale, int | float) and 0 < shift_scale <= 1):
        raise InputError(f"shift_scale must be in (0, 1], got {shift_scale!r}")
    if likelihood not in ("bernoulli", "gaussian"):
        raise InputError(f"likelihood must be 'bernoulli' or 'gaussian', got {likelihood!r}")
    if encoder not in ("mlp", "conv", "lattice"):
        raise InputError(f"encoder must be 'mlp', 'conv' or 'lattice', got {encoder!r}")
    widths = _widths(hidden, "hidden")
    decoder_widths = None if decoder_hidden is None else _widths(decoder_hidden, "decoder_hidden")
    if not (gaussian_std > 0):
        raise InputError(f"gaussian_std must be positive, got {gaussian_std!r}")
    if coord_frequency is not None and not (
        isinstance(coord_frequency, int | float | np.floating)
        and not isinstance(coord_frequency, bool)
        and math.isfinite(coord_frequency)
        and coord_frequency > 0
    ):
        raise InputError(
            f"coord_frequency must be None or a positive number of cycles per patch side, "
            f"got {coord_frequency!r}"
        )
    return ModelConfig(
        data_shape=shape,
        latent_dim=int(latent_dim),
        shift=bool(shift),
        shift_scale=float(shift_scale),
        likelihood=likelihood,
        gaussian_std=float(gaussian_std),
        hidden=widths,
        decoder_hidden=decoder_widths,
        encoder=encoder,
        coord_frequency=None if coord_frequency is None else float(coord_frequency),
        seed=int(seed),
    )


def _check_properties(properties: Any) -> tuple[str, ...]:
    """Property names: a count becomes value1, value2, ...; names must be distinct."""
    if isinstance(properties, int | np.integer) and not isinstance(properties, bool):
        if properties < 0:
            raise InputError(f"properties must be a count >= 0 or names, got {properties!r}")
        return tuple(f"value{i + 1}" for i in range(int(properties)))
    if isinstance(properties, str) or not all(isinstance(n, str) and n for n in properties):
        raise InputError(f"properties must be a count or a list of names, got {properties!r}")
    names = tuple(properties)
    if len(set(names)) != len(names):
        raise InputError(f"property names must be distinct, got {list(names)}")
    return names


def _check_classes(classes: Any) -> int:
    """The number of classes: 0 (none) or an integer >= 2."""
    whole = isinstance(classes, int | np.integer) and not isinstance(classes, bool)
    if not whole or classes == 1 or classes < 0:
        raise InputError(f"classes must be 0 (none), an integer >= 2 or 'auto', got {classes!r}")
    return int(classes)


def _pose_options(config, rotation, scale, scale_range, period) -> dict[str, Any]:
    """Checked rotation and scale options (an InputError names any)."""
    order = 0 if rotation is None or rotation is False else check_symmetry_order(rotation)
    if scale not in (None, *SCALE_MODES):
        raise InputError(f"scale must be None, 'isotropic' or 'axes', got {scale!r}")
    if isinstance(scale_range, bool) or not (
        isinstance(scale_range, int | float) and 0 < scale_range <= 1
    ):
        raise InputError(f"scale_range must be in (0, 1], got {scale_range!r}")
    if period is not None and not (isinstance(period, int | float) and period > 0):
        raise InputError(f"period must be a positive number of pixels, got {period!r}")
    if scale and period is None:
        raise InputError(
            "scale needs the lattice period in patch pixels (period=...): the scale latent is "
            "the lattice parameter relative to it"
        )
    if order or scale:
        shape = config.data_shape
        if len(shape) != 2 or shape[0] != shape[1]:
            raise InputError(f"rotation and scale need square 2D patches, got {shape}")
        if config.decoder == "lattice" or config.encoder != "mlp":
            raise InputError(
                "rotation and scale work with the MLP encoder and the canvas or coordinate "
                "decoder (the lattice coder assumes one orientation for the whole image)"
            )
    return {
        "rotation": order,
        "scale": scale,
        "scale_range": float(scale_range),
        "period": None if period is None else float(period),
    }


def _lattice_options(config, position, decoder, lattice, harmonics) -> dict[str, Any]:
    """Checked position, decoder, lattice and harmonics options (an InputError names any)."""
    if position not in ("gaussian", "torus"):
        raise InputError(f"position must be 'gaussian' or 'torus', got {position!r}")
    if decoder not in ("coordinate", "lattice", "canvas"):
        raise InputError(f"decoder must be 'coordinate', 'lattice' or 'canvas', got {decoder!r}")
    needs_lattice = (
        (position == "torus" and config.shift)
        or decoder == "lattice"
        or config.encoder == "lattice"
    )
    if needs_lattice and len(config.data_shape) != 2:
        raise InputError("position='torus' and decoder='lattice' need 2D patches (H, W)")
    cell = None
    if lattice is not None:
        cell = np.asarray(lattice, dtype=np.float64)
        if cell.shape != (2, 2) or not np.isfinite(cell).all():
            raise InputError(f"lattice must be two (row, col) vectors in pixels, got {lattice!r}")
        area = abs(float(np.linalg.det(cell)))
        if area < 1.0 or min(np.linalg.norm(cell, axis=1)) < 2.0:
            raise InputError(
                f"lattice vectors {cell.tolist()} must be at least 2 px long and not "
                "collinear (a unit cell of at least 1 px^2)"
            )
        cell = tuple(tuple(float(v) for v in row) for row in cell)
    elif needs_lattice:
        raise InputError(
            "position='torus', decoder='lattice' and encoder='lattice' need the lattice vectors "
            "in patch pixels "
            "(lattice=[[a1_row, a1_col], [a2_row, a2_col]]; sv.estimate_lattice finds them)"
        )
    if harmonics is not None:
        _check_positive_int(harmonics, "harmonics")
    return {"position": position, "decoder": decoder, "lattice": cell, "harmonics": harmonics}
