"""Training loop of the shift-VAE: beta schedule, Adam, progress bar, NaN guard.

The loop is kept apart from the model class (the model holds the maths, this module the
optimisation) and takes every source of randomness and the device as arguments.
"""

from __future__ import annotations

import copy
import errno
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from shiftvae.errors import (
    DeviceMemoryError,
    InputError,
    TrainingDivergedError,
    write_error,
)
from shiftvae.model.classes import LABEL_WEIGHT
from shiftvae.model.module import ShiftVAEModule
from shiftvae.model.regression import VALUE_WEIGHT

log = logging.getLogger(__name__)

# share of the epochs trained with the N(0, I) prior before the classes start: late without
# labels (the latents of the default model, refined), early with labels (time for them to
# act); each the better worst case of benchmarks/bench_classes.py at 0.5 and 0.95
CLASS_START = 0.95
CLASS_START_LABELLED = 0.5


@dataclass(frozen=True)
class BetaSchedule:
    """KL weight per epoch: linear ramp from ``start`` to ``end`` over a share of training.

    beta(e) = start + (end - start) * min(1, e / (ramp * epochs - 1)),  e = 0 .. epochs-1

    Parameters
    ----------
    start, end : float
        KL weights at the first epoch and at the end of the ramp (both > 0).
    ramp : float
        Share of the epochs over which beta moves (0 < ramp <= 1); constant after.

    Examples
    --------
    >>> schedule = BetaSchedule(0.1, 1.0, ramp=0.5)
    >>> [round(schedule(e, 5), 2) for e in range(5)]
    [0.1, 0.55, 1.0, 1.0, 1.0]
    """

    start: float
    end: float
    ramp: float = 1.0

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise InputError(f"beta {name} must be a positive number, got {value!r}")
        if not (0 < self.ramp <= 1):
            raise InputError(f"beta ramp must be in (0, 1], got {self.ramp!r}")

    @classmethod
    def from_value(cls, beta: float | Sequence[float] | BetaSchedule, ramp: float = 1.0):
        """Build a schedule from a float (constant), a (start, end) pair, or a schedule."""
        if isinstance(beta, BetaSchedule):
            return beta
        if isinstance(beta, int | float):
            return cls(float(beta), float(beta), ramp)
        values = tuple(beta)
        if len(values) != 2:
            raise InputError(f"beta must be a number or a (start, end) pair, got {beta!r}")
        return cls(float(values[0]), float(values[1]), ramp)

    def __call__(self, epoch: int, epochs: int) -> float:
        ramp_epochs = max(1, round(self.ramp * epochs))
        t = min(1.0, epoch / max(1, ramp_epochs - 1))
        return self.start + (self.end - self.start) * t


@dataclass
class History:
    """Per-epoch training record (batch-mean values, in nats per sample)."""

    loss: list[float] = field(default_factory=list)
    reconstruction: list[float] = field(default_factory=list)
    kl: list[float] = field(default_factory=list)
    beta: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def __getitem__(self, key: str) -> list[float]:
        return getattr(self, key)

    def __len__(self) -> int:
        return len(self.loss)

    def as_dict(self) -> dict[str, list[float]]:
        return {
            k: list(getattr(self, k)) for k in ("loss", "reconstruction", "kl", "beta", "seconds")
        }

    @classmethod
    def from_dict(cls, d: dict[str, Sequence[float]], epochs: int | None = None) -> History:
        """The history of :meth:`as_dict`, or of its first ``epochs`` epochs."""
        fields = cls.__dataclass_fields__
        return cls(**{k: [float(v) for v in list(d.get(k, []))[:epochs]] for k in fields})


@dataclass
class TrainOptions:
    """Options of :func:`train_module` (all validated by the model's ``fit``)."""

    epochs: int = 100
    batch_size: int = 100
    lr: float = 1e-3
    beta: BetaSchedule = field(default_factory=lambda: BetaSchedule(1.0, 1.0))
    seed: int = 0
    progress: bool = True
    on_epoch_end: Callable[[int, History], None] | None = None
    checkpoint_path: Path | None = None  # where to write checkpoints (None: never)
    checkpoint_every: int = 0  # epochs between checkpoints (0: 10% of training)
    resume: bool = False  # continue from checkpoint_path if it exists
    precision: str = "fp32"  # "fp32", or "bf16": the decoder's pixel MLP in mixed precision
    warmup: float = 0.0  # share of the epochs decoded without the conventional latents
    class_start: float | None = None  # with classes: share of the epochs before the mixture
    # starts (None: CLASS_START, or CLASS_START_LABELLED when there are labels)

    def warmup_epochs(self) -> int:
        """Epochs at the start during which the decoder sees the position only."""
        return round(self.warmup * self.epochs)

    def class_start_epoch(self, labelled: bool = False) -> int:
        """The epoch at whose start a model with classes sets its mixture prior."""
        share = CLASS_START_LABELLED if labelled else CLASS_START
        share = share if self.class_start is None else self.class_start
        # at least the last epoch trains with the mixture: a short fit still has classes
        return min(round(share * self.epochs), self.epochs - 1)


def save_checkpoint(
    path: Path,
    module,
    optimizer,
    gen: torch.Generator,
    epoch: int,
    history: History,
    options: TrainOptions,
) -> None:
    """Everything needed to continue bit for bit: weights, Adam state, RNG state, history."""
    state = {
        "format": "shiftvae-checkpoint/1",
        "epoch": epoch,  # epochs completed
        "epochs": options.epochs,
        "module": module.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": gen.get_state(),
        "history": history.as_dict(),
    }
    try:
        save_state(state, path)
    except OSError as exc:
        raise write_error(exc, f"the checkpoint {path}") from exc


def save_state(state: dict, path: Path) -> Path:
    """``torch.save`` beside ``path`` and renamed in, so a failed write (a full disk, a
    quota, a file size limit) leaves no partial file; it raises an OSError (torch's own
    RuntimeError for a write that came up short becomes one, with errno EIO)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    try:
        torch.save(state, tmp)
        tmp.replace(path)  # atomic: a crash while saving keeps the previous file
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    except RuntimeError as exc:  # torch's zip writer when a write came up short
        tmp.unlink(missing_ok=True)
        raise OSError(
            errno.EIO,
            "the file could not be completed (a full disk, a quota or a file size limit?); "
            "free some space first",
        ) from exc
    return path


def load_checkpoint(path: Path) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint`."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(
            f"checkpoint {path} cannot be read ({exc}); delete it to start over"
        ) from exc
    if state.get("format") != "shiftvae-checkpoint/1":
        raise InputError(f"{path} is not a shiftvae checkpoint")
    return state


def resolve_device(device: str | torch.device) -> torch.device:
    """'auto' -> CUDA when available, else CPU; anything else is passed to torch."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise InputError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("device 'cuda' was asked for but no CUDA GPU is available; use 'cpu'")
    return torch.device(device)


def train_module(
    module: ShiftVAEModule,
    data: torch.Tensor,
    options: TrainOptions,
    history: History | None = None,
    anchors: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
    values: torch.Tensor | None = None,
) -> History:
    """Optimise ``module`` on ``data`` (N, *S), already on the target device.

    ``anchors`` (N, 2): registered position angles of the patches (see ``module.prepare``).
    ``labels`` (N,): for a model with classes, a class per patch or -1 (unknown).
    ``values`` (N, P): for a model with properties, their values, NaN where unknown.

    Mini-batches are drawn by a seeded permutation each epoch; the reparameterisation noise
    comes from a generator seeded from ``options.seed``, so a CPU run is reproducible bit for
    bit.  Losses are accumulated on the device and read once per epoch.
    """
    history = history if history is not None else History()
    optimizer = _adam(list(module.parameters()), options.lr)
    gen = torch.Generator(device=data.device).manual_seed(options.seed + 1)
    first_epoch = 0
    ckpt = options.checkpoint_path
    every = options.checkpoint_every or max(1, options.epochs // 10)
    if ckpt is not None and options.resume and Path(ckpt).is_file():
        state = load_checkpoint(Path(ckpt))
        if state["epochs"] != options.epochs:
            raise InputError(
                f"checkpoint {ckpt} was written for {state['epochs']} epochs, "
                f"not {options.epochs}: resume with the same options"
            )
        module.load_state_dict(state["module"])
        optimizer.load_state_dict(state["optimizer"])
        _set_learning_rate(optimizer, options.lr)  # a lower one may follow a divergence
        gen.set_state(state["rng"].to(gen.get_state().device))
        history.__init__(**History.from_dict(state["history"]).__dict__)
        first_epoch = int(state["epoch"])
        log.info("resuming from %s after epoch %d", ckpt, first_epoch)
    good = _snapshot(module, optimizer, gen, first_epoch)
    module.train()
    try:
        # one forward and one backward per step: the decoder may recycle its work buffers
        dtype = torch.bfloat16 if options.precision == "bf16" else None
        with module.decoder.reuse_buffers(), module.decoder.compute_dtype(dtype):
            _run_epochs(
                module,
                data,
                options,
                history,
                optimizer,
                gen,
                first_epoch,
                good,
                ckpt,
                every,
                anchors,
                labels,
                values,
            )
    except torch.cuda.OutOfMemoryError as exc:
        module.load_state_dict(good["module"])
        raise DeviceMemoryError(
            f"the GPU ran out of memory training at batch size {options.batch_size} "
            f"(epoch {len(history) + 1}); lower the batch size, e.g. to "
            f"{max(1, options.batch_size // 2)} (--batch-size), or train on the CPU "
            "(--device cpu)"
        ) from exc
    except KeyboardInterrupt:
        module.load_state_dict(good["module"])
        # the interrupt may land after an epoch was recorded but before its snapshot: keep
        # the history of the epochs the saved state has, or a resume records one twice
        history.__init__(**History.from_dict(history.as_dict(), good["epoch"]).__dict__)
        if ckpt is not None:
            optimizer.load_state_dict(good["optimizer"])
            gen.set_state(good["rng"])
            save_checkpoint(Path(ckpt), module, optimizer, gen, good["epoch"], history, options)
            log.info("interrupted: checkpoint of epoch %d saved in %s", good["epoch"], ckpt)
        raise
    finally:
        module.eval()
    return history


def _set_learning_rate(optimizer, lr: float) -> None:
    """Use ``lr`` from here on (the saved optimiser state carries the old one)."""
    for group in optimizer.param_groups:
        if group["lr"] != lr:
            log.warning("continuing with learning rate %g instead of %g", lr, group["lr"])
            group["lr"] = lr


def _adam(params: list[torch.nn.Parameter], lr: float) -> torch.optim.Adam:
    """Adam as one fused kernel over all parameters where this torch has one for the device.

    The per-parameter loop of the default implementation takes about 0.3 ms a step on the
    CPU, a tenth of a small model's step; the fused kernel 0.09 ms.  Older torch releases
    (before 2.4) fuse on CUDA only: they get the default implementation.
    """
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.Adam(params, lr=lr)


def _snapshot(module, optimizer, gen: torch.Generator, epoch: int) -> dict:
    """Copies of everything that changes during an epoch, to roll back to."""
    return {
        "module": copy.deepcopy(module.state_dict()),
        "optimizer": copy.deepcopy(optimizer.state_dict()),
        "rng": gen.get_state(),
        "epoch": epoch,
    }


def _prepare(module, data: torch.Tensor, batch_size: int, anchors=None) -> torch.Tensor | None:
    """The module's weight-free encoder inputs of every patch (``module.prepare``), computed
    once, a batch at a time, or None when the module has none.  ``anchors`` (N, 2): the
    registered position angles of the patches, if any."""
    if not module.prepares:
        return None
    parts = (
        [None] * math.ceil(len(data) / batch_size) if anchors is None else anchors.split(batch_size)
    )
    with torch.no_grad():
        return torch.cat([module.prepare(x, a) for x, a in zip(data.split(batch_size), parts)])


def _label_weight(labels: torch.Tensor | None, n: int) -> float:
    """Cross-entropy weight of one labelled input: the labelled inputs' mean cross-entropy
    then weighs ``LABEL_WEIGHT`` against the mean ELBO of an input, however few they are."""
    known = 0 if labels is None else int((labels >= 0).sum())
    return LABEL_WEIGHT * n / known if known else 0.0


def _value_weight(values: torch.Tensor | None, n: int) -> float:
    """Negative log-likelihood weight of one input with a known value, spread as
    :func:`_label_weight` spreads the classes' (``VALUE_WEIGHT``)."""
    known = 0 if values is None else int(torch.isfinite(values).any(1).sum())
    return VALUE_WEIGHT * n / known if known else 0.0


@torch.no_grad()
def _latent_means(module, data, prepared, batch_size: int) -> torch.Tensor:
    """The content latents' means of every input (N, l), in evaluation mode."""
    was = module.training
    module.eval()
    size = batch_size * 10
    parts = [None] * math.ceil(len(data) / size) if prepared is None else prepared.split(size)
    means = torch.cat([module.inference(x, p)[0] for x, p in zip(data.split(size), parts)])
    module.train(was)
    return means[:, module.layout.content_slice].float()


@torch.no_grad()
def _start_mixture(module, data, prepared, labels, options: TrainOptions) -> None:
    """Set a model's class mixture from the content latents' means of every patch."""
    content = _latent_means(module, data, prepared, options.batch_size).cpu().numpy()
    known = None if labels is None else labels.cpu().numpy()
    module.mixture.start(content.astype("float64"), known, options.seed)


def _run_epochs(
    module,
    data,
    options,
    history,
    optimizer,
    gen,
    first_epoch,
    good,
    ckpt,
    every,
    anchors,
    labels,
    values,
) -> None:
    """The epoch loop of :func:`train_module` (``good`` is updated after each epoch)."""
    device = data.device
    n = data.shape[0]
    label_weight = _label_weight(labels, n)
    value_weight = _value_weight(values, n)
    n_batches = math.ceil(n / options.batch_size)
    bar = tqdm(
        range(first_epoch, options.epochs),
        desc="training",
        unit="epoch",
        disable=None if options.progress else True,
        leave=False,
    )
    prepared = _prepare(module, data, options.batch_size, anchors)  # the same every epoch
    for epoch in bar:
        tic = time.perf_counter()
        mixture = module.mixture
        start = options.class_start_epoch(labels is not None)
        if mixture is not None and not mixture.ready and epoch >= start:
            _start_mixture(module, data, prepared, labels, options)
        beta = options.beta(epoch, options.epochs)
        content = epoch >= options.warmup_epochs()
        sums = torch.zeros(3, device=device)  # loss, reconstruction, kl (summed over batches)
        order = torch.randperm(n, generator=gen, device=device)
        for b in range(n_batches):
            idx = order[b * options.batch_size : (b + 1) * options.batch_size]
            x = data.index_select(0, idx)  # (B, *S)
            noise = torch.randn(
                x.shape[0],
                module.layout.size,
                generator=gen,
                device=device,
            )
            ready = None if prepared is None else prepared.index_select(0, idx)
            known = None if labels is None else labels.index_select(0, idx)
            measured = None if values is None else values.index_select(0, idx)
            out = module.loss(
                x,
                beta,
                noise,
                content=content,
                prepared=ready,
                labels=known,
                label_weight=label_weight,
                values=measured,
                value_weight=value_weight,
            )
            optimizer.zero_grad(set_to_none=True)
            out.loss.backward()
            optimizer.step()
            sums += torch.stack([out.loss, out.reconstruction, out.kl]).detach() * x.shape[0]
        loss, rec, kl = (sums / n).tolist()  # the one host sync of the epoch
        if not all(math.isfinite(v) for v in (loss, rec, kl)):
            module.load_state_dict(good["module"])
            raise TrainingDivergedError(
                f"the loss became {loss} at epoch {epoch + 1} of {options.epochs} "
                f"(learning rate {options.lr:g}, beta {beta:g}); the weights of epoch {epoch} "
                f"were kept; try a lower learning rate such as lr={options.lr / 3:.2g}"
            )
        for key, value in (
            ("loss", loss),
            ("reconstruction", rec),
            ("kl", kl),
            ("beta", beta),
            ("seconds", time.perf_counter() - tic),
        ):
            history[key].append(value)
        bar.set_postfix(loss=f"{loss:.2f}", beta=f"{beta:.3g}")
        good.update(_snapshot(module, optimizer, gen, epoch + 1))  # before saving: Ctrl-C
        if ckpt is not None and ((epoch + 1) % every == 0 or epoch + 1 == options.epochs):
            save_checkpoint(Path(ckpt), module, optimizer, gen, epoch + 1, history, options)
        if options.on_epoch_end is not None:
            options.on_epoch_end(epoch, history)
    bar.close()
    if values is not None and module.regression is not None:
        module.regression.settle(_latent_means(module, data, prepared, options.batch_size), values)
