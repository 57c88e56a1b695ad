"""Every option of an image fit, once: its rule, its flag and its help.

:data:`OPTIONS` is the one table.  From it come:

* :func:`check_fit_options`, which refuses a :class:`~shiftvae.pipeline.FitConfig` out of
  range before any work, naming the option and what it allows;
* :func:`add_fit_options`, the command-line flags of ``fit``, ``fit-many``, ``sweep`` and
  ``tune`` (argparse types that apply the same rules to the text);
* :func:`options_markdown`, the option reference ``docs/options.md`` (a test fails when the
  page and the table disagree; ``make docs`` writes it again).

The defaults are those of :class:`~shiftvae.pipeline.FitConfig` (read from its fields, so
they are written once too).  Rules that tie two options together are in
:func:`check_fit_options` after the table's.

A rule is a ``kind`` and the ``words`` allowed besides it:

=========  =========================================================================
kind       a value of this kind is
=========  =========================================================================
``int``    an integer >= ``low`` (1 unless given)
``real``   a finite number > 0, and <= ``high`` where given
``choice`` one of ``choices``
``order``  a symmetry order a lattice allows: 1, 2, 3, 4 or 6
``cell``   two (row, col) lattice vectors in pixels (``R1,C1;R2,C2`` on the command line)
``device`` ``cpu``, ``cuda`` or ``cuda:N``
``bool``   True or False (a ``--no-...`` flag turns it off)
``ints``   a tuple of positive integers (layer widths; no flag)
``csv``    the path of a CSV file (``.csv``)
=========  =========================================================================

``words`` are values outside the kind, spelled on the command line as themselves, and
``None`` as ``none`` (or as ``auto`` where None means "chosen from the image").
"""

from __future__ import annotations

import argparse
import math
from dataclasses import MISSING, dataclass, fields
from typing import Any

import numpy as np

from shiftvae.errors import InputError
from shiftvae.pipeline.config import FitConfig

__all__ = ["OPTIONS", "Option", "add_fit_options", "check_fit_options", "options_markdown"]

ORDERS = (1, 2, 3, 4, 6)


@dataclass(frozen=True)
class Option:
    """One fit option: its field, its rule, its flag and its help."""

    name: str
    kind: str
    help: str
    words: tuple = ()
    choices: tuple = ()
    low: int = 1
    high: float | None = None
    flag: str | None = ""  # "" : --name-with-dashes; None: no flag
    none_word: str = "none"  # how None is spelled on the command line
    metavar: str | None = None
    unit: str = ""  # said in the message: "a positive number of {unit}"

    @property
    def cli(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    def allowed(self, flags: bool = False) -> str:
        """What the option accepts, in words: "'auto', None or a positive integer"."""
        spelled = [repr((self.none_word if w is None else w) if flags else w) for w in self.words]
        if self.kind == "choice":
            return _either(spelled + [repr(c) for c in self.choices])
        if self.kind == "real" and self.high is not None:
            return _either([*spelled, f"in (0, {self.high:g}]"])
        kind = {
            "int": ["a positive integer" if self.low == 1 else f"an integer >= {self.low}"],
            "real": [f"a positive number{' of ' + self.unit if self.unit else ''}"],
            "order": ["a symmetry order 1, 2, 3, 4 or 6 (the orders a lattice allows)"],
            "cell": [
                "two vectors 'R1,C1;R2,C2' in px" if flags else "two (row, col) vectors in pixels"
            ],
            "region": [
                "a rectangle 'R0,C0,R1,C1' in px (top-left, bottom-right)"
                if flags
                else "a rectangle (row0, col0, row1, col1) in px, row0 < row1 and col0 < col1"
            ],
            "device": ["'cpu'", "'cuda'", "'cuda:N'"],
            "bool": ["True", "False"],
            "ints": ["a tuple of positive integers"],
            "csv": ["the path of a .csv file"],
        }[self.kind]
        return _either(spelled + kind)

    def valid(self, value: Any) -> bool:
        if any(value is w or (w is not None and _same(value, w)) for w in self.words):
            return True
        if value is None:
            return False
        if self.kind == "int":
            return _is_int(value) and value >= self.low
        if self.kind == "real":
            return _is_real(value) and value > 0 and (self.high is None or value <= self.high)
        if self.kind == "choice":
            return isinstance(value, str) and value in self.choices
        if self.kind == "order":
            return _is_int(value) and value in ORDERS
        if self.kind == "cell":
            try:
                cell = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                return False
            return (
                not isinstance(value, str)
                and cell.shape == (2, 2)
                and bool(np.isfinite(cell).all())
            )
        if self.kind == "region":
            return (
                isinstance(value, tuple | list)
                and len(value) == 4
                and all(_is_int(v) and v >= 0 for v in value)
                and value[0] < value[2]
                and value[1] < value[3]
            )
        if self.kind == "device":
            return isinstance(value, str) and (
                value in ("cpu", "cuda") or (value.startswith("cuda:") and value[5:].isdigit())
            )
        if self.kind == "bool":
            return isinstance(value, bool | np.bool_)
        if self.kind == "ints":
            return isinstance(value, tuple | list) and all(_is_int(v) and v >= 1 for v in value)
        if self.kind == "csv":
            return isinstance(value, str) and value.lower().endswith(".csv")
        raise ValueError(f"unknown kind {self.kind!r}")

    def message(self, value: Any, flags: bool = False) -> str:
        name = self.cli if flags else self.name
        return f"{name} must be {self.allowed(flags)}, got {value!r}"

    def spell(self, value: Any) -> str:
        """The command-line text of ``value`` (what :meth:`parse` reads back)."""
        if value is None:
            return self.none_word
        if self.kind == "cell":
            return ";".join(",".join(f"{v:g}" for v in row) for row in value)
        if self.kind == "region":
            return ",".join(str(int(v)) for v in value)
        return str(value)

    def parse(self, text: str) -> Any:
        """The value of the command line's ``text`` (argparse type: refuses with the rule)."""
        spelled = {(self.none_word if w is None else w): w for w in self.words}
        if text in spelled:
            return spelled[text]
        try:
            value: Any = {
                "int": int,
                "real": float,
                "order": int,
                "cell": _cell,
                "region": _region,
            }.get(self.kind, str)(text)
        except ValueError:
            value = None
        if value is None or not self.valid(value):
            raise argparse.ArgumentTypeError(self.message(text, flags=True))
        return value


def _same(value: Any, word: Any) -> bool:
    return isinstance(value, str) and value == word


def _either(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return (
        isinstance(value, int | float | np.number)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _cell(text: str) -> tuple:
    rows = [tuple(float(v) for v in part.split(",")) for part in text.split(";")]
    if len(rows) != 2 or any(len(r) != 2 for r in rows):
        raise ValueError(text)
    return tuple(rows)


def _region(text: str) -> tuple:
    return tuple(int(v) for v in text.split(","))


AUTO = "auto"

OPTIONS: tuple[Option, ...] = (
    # --- what is cut from the image -----------------------------------------------------------
    Option(
        "window",
        "int",
        "patch side in px (auto: 1.5 lattice cells with a lattice, else ~2.5 periods of the "
        "strongest planes; 32 px when nothing repeats)",
        words=(None,),
        none_word=AUTO,
    ),
    Option(
        "step",
        "int",
        "grid step in px (auto: window / 2, less on small images so that about 2500 patches fit)",
        words=(None,),
        none_word=AUTO,
    ),
    Option(
        "binning",
        "int",
        "average N x N pixel blocks before cutting patches (auto: the smallest factor that "
        "brings the window to <= 96 px with the lattice coder, <= 24 px with the paper's "
        "decoder)",
        words=(AUTO,),
    ),
    Option(
        "normalize",
        "choice",
        "intensity scaling to [0, 1]: the whole image, each patch, or none",
        choices=("image", "patch"),
        words=(None,),
    ),
    Option(
        "background",
        "real",
        "subtract the image's plane and then its Gaussian blur of this std first, so that a "
        "thickness or detector gradient takes no latent (auto: 8 lattice periods with a "
        "lattice, at most "
        "a quarter of the image side; none without; none: keep it)",
        words=(AUTO, None),
        unit="px (the blur's std)",
        metavar="PX",
    ),
    Option(
        "lattice",
        "cell",
        "the two primitive lattice vectors in px, (row, col) each (auto: from the Fourier "
        "peaks; none: the paper's model, no lattice)",
        words=(AUTO, None),
        metavar="R1,C1;R2,C2",
    ),
    Option(
        "centers",
        "choice",
        "patch centres: 'atoms' (on the columns of the brightest sublattice), 'lattice' (one "
        "per unit cell, all at the same lattice phase) or 'grid' (the paper's square grid); "
        "maps of the first two are over lattice cells (auto: atoms with a near-rectangular "
        "lattice of at least 8 x 8 cells, else grid)",
        choices=("grid", "lattice", "atoms"),
        words=(AUTO,),
    ),
    Option(
        "columns",
        "csv",
        "column positions found elsewhere, as patch centres: a CSV with (row, col) px "
        "(headers row,col or x,y; a columns.csv of an earlier fit gives its sublattice 0); "
        "each lattice site is moved onto the nearest listed column (none: found here)",
        words=(None,),
        metavar="FILE.csv",
    ),
    Option(
        "reference",
        "region",
        "where the lattice is unstrained, for the strain and rotation maps: a rectangle of "
        "the image (median: the image's median lattice)",
        words=(None,),
        none_word="median",
        metavar="R0,C0,R1,C1",
    ),
    # --- the model --------------------------------------------------------------------------
    Option("latent_dim", "int", "conventional latents (the order-parameter maps)"),
    Option(
        "shift",
        "bool",
        "position latents; --no-shift: a plain VAE (the baseline)",
        flag="--no-shift",
    ),
    Option(
        "shift_scale",
        "real",
        "k in r + k dr: the Gaussian shift's prior std, as a share of half the window",
        high=1.0,
    ),
    Option(
        "position",
        "choice",
        "position latent: 'torus' (modulo the unit cell) or 'gaussian' (the paper's shift) "
        "(auto: torus when there is a lattice)",
        choices=("gaussian", "torus"),
        words=(AUTO,),
    ),
    Option(
        "decoder",
        "choice",
        "'lattice' (a Fourier series on the lattice), 'canvas' (drawn once per patch, moved "
        "by a phase ramp) or 'coordinate' (the paper's MLP) (auto: lattice when there is a "
        "lattice, else canvas)",
        choices=("coordinate", "lattice", "canvas"),
        words=(AUTO,),
    ),
    Option(
        "encoder",
        "choice",
        "'lattice' (reads the patch's aligned lattice Fourier coefficients), 'mlp' (the "
        "paper's, on pixels) or 'conv' (auto: lattice when there is a lattice)",
        choices=("mlp", "conv", "lattice"),
        words=(AUTO,),
    ),
    Option(
        "rotation",
        "order",
        "an orientation latent, an angle modulo 360/N degrees (auto, the flag alone: N from "
        "the image; give it after the image); uses the square grid, the MLP encoder and the "
        "canvas decoder",
        words=(AUTO, None),
        metavar="N",
    ),
    Option(
        "scale",
        "choice",
        "a lattice-parameter latent: 'isotropic' (the flag alone) or 'axes' (one per motif "
        "axis, uniaxial strain)",
        choices=("isotropic", "axes"),
        words=(None,),
    ),
    Option(
        "classes",
        "int",
        "a class per patch, K kinds (defects, variants, phases): a Gaussian mixture prior on "
        "the conventional latents, trained with them; a class map with probabilities (auto: "
        "K from 2 to 6, the best separated; none: no classes)",
        words=(AUTO, None),
        low=2,
        metavar="K",
    ),
    Option(
        "labels",
        "csv",
        "a few known classes: a CSV with row, col (px) and class (0 to K-1) per line; each "
        "labels the patch whose centre is nearest (semi-supervised; needs --classes)",
        words=(None,),
        metavar="FILE.csv",
    ),
    Option(
        "values",
        "csv",
        "a few measured values: a CSV with row, col (px) and one column per property "
        "(blank: not measured); a regression head on the latents predicts each in every "
        "cell, with an error bar",
        words=(None,),
        metavar="FILE.csv",
    ),
    Option(
        "likelihood",
        "choice",
        "'gaussian' at the image's noise level, or the paper's 'bernoulli' (auto: gaussian "
        "with a lattice, bernoulli without)",
        choices=("bernoulli", "gaussian"),
        words=(AUTO,),
    ),
    Option(
        "noise",
        "real",
        "the Gaussian likelihood's std, in the patches' units (0-1) (auto: measured on the "
        "patches)",
        words=(AUTO,),
        unit="the patches' units (0-1)",
    ),
    Option(
        "coord_frequency",
        "real",
        "the coordinate decoder's sine layer, up to F cycles per patch side (auto: twice the "
        "lattice periods per window; none: the paper's tanh layer)",
        words=(AUTO, None),
        unit="cycles per patch side",
        metavar="F",
    ),
    Option("hidden", "ints", "the encoder's (and decoder's) hidden layer widths", flag=None),
    Option(
        "decoder_hidden",
        "ints",
        "the decoder's hidden layer widths (None: those of hidden)",
        words=(None,),
        flag=None,
    ),
    # --- training ---------------------------------------------------------------------------
    Option(
        "epochs",
        "int",
        "training epochs (auto: at least 2500 optimisation steps, 50 to 400 epochs)",
        words=(AUTO,),
    ),
    Option("batch_size", "int", "patches per optimisation step"),
    Option("lr", "real", "Adam learning rate"),
    Option(
        "beta_start",
        "real",
        "KL weight at the first epoch (fit: --beta START:END; sweep: --beta-start)",
        flag=None,
    ),
    Option(
        "beta_end",
        "real",
        "KL weight at the last epoch, ramped linearly (fit: --beta START:END; sweep: --beta-end)",
        flag=None,
    ),
    Option("seed", "int", "random seed: the same seed gives the same result", low=0),
    Option("device", "device", "where to train (auto: a GPU when there is one)", words=(AUTO,)),
    Option(
        "precision",
        "choice",
        "bf16: mixed-precision training of the coordinate decoder, about twice as fast on "
        "CPUs with AVX512-BF16 or AMX and on recent GPUs (the lattice and canvas decoders "
        "train in fp32)",
        choices=("fp32", "bf16"),
    ),
    # --- after training ---------------------------------------------------------------------
    Option(
        "phases",
        "int",
        "number of phases of the Gaussian mixture on the latents (auto: by BIC; none: no "
        "phase map)",
        words=(AUTO, None),
    ),
)

BY_NAME = {o.name: o for o in OPTIONS}


def check_fit_options(options: Any, flags: bool = False) -> None:
    """Refuse out-of-range fit options (a :class:`~shiftvae.pipeline.FitConfig`) up front.

    Parameters
    ----------
    options : FitConfig or any object with its attributes
        The options to check; attributes it lacks are not checked.
    flags : bool
        Name options as command-line flags (``--shift-scale``) rather than fields.

    Raises
    ------
    InputError
        Naming the first option out of range and what it allows.

    Examples
    --------
    >>> from shiftvae.pipeline import FitConfig
    >>> check_fit_options(FitConfig(shift_scale=2.0))
    Traceback (most recent call last):
    ...
    shiftvae.errors.InputError: shift_scale must be in (0, 1], got 2.0
    """
    missing = object()
    for option in OPTIONS:
        value = getattr(options, option.name, missing)
        if value is not missing and not option.valid(value):
            raise InputError(option.message(value, flags))
    get = lambda name: getattr(options, name, None)  # noqa: E731
    if get("columns") is not None and get("centers") in ("grid", "lattice"):
        columns, centers = (BY_NAME[n].cli if flags else n for n in ("columns", "centers"))
        raise InputError(
            f"{columns} gives the patch centres: it works with {centers} 'atoms' or "
            f"'auto', not {get('centers')!r}"
        )
    if get("labels") is not None and get("classes") is None:
        labels, classes = (BY_NAME[n].cli if flags else n for n in ("labels", "classes"))
        raise InputError(f"{labels} gives known classes: it needs {classes} K")
    if get("rotation") is not None or get("scale") is not None:
        for name, refused in (("decoder", ("lattice",)), ("encoder", ("lattice", "conv"))):
            if get(name) in refused:
                rotation, scale, part = (
                    BY_NAME[n].cli if flags else n for n in ("rotation", "scale", name)
                )
                raise InputError(
                    f"{rotation} and {scale} work with the MLP encoder and the canvas or "
                    f"coordinate decoder, not {part} {get(name)!r}"
                )


def add_fit_options(p: argparse.ArgumentParser) -> None:
    """Add the flags of the fit options to ``p`` (fit, fit-many, sweep and tune)."""
    defaults = _defaults()
    for option in OPTIONS:
        if option.flag is None:
            continue
        default = defaults[option.name]
        kwargs: dict[str, Any] = {"dest": option.name, "help": _help(option, default)}
        if option.kind == "bool":
            p.add_argument(option.cli, action="store_false", **kwargs)
            continue
        if option.name in ("rotation", "scale"):  # the flag alone asks for one
            kwargs.update(nargs="?", const=AUTO if option.name == "rotation" else "isotropic")
        p.add_argument(
            option.cli, type=option.parse, default=default, metavar=_metavar(option), **kwargs
        )


def _metavar(option: Option) -> str | None:
    if option.kind != "choice":
        return option.metavar
    spelled = [option.none_word if w is None else w for w in option.words]
    return "{" + ",".join([*spelled, *option.choices]) + "}"


def _help(option: Option, default: Any) -> str:
    if option.kind == "bool":
        return option.help
    shown = option.none_word if default is None else default
    return f"{option.help} (default: {shown})".replace("%", "%%")


def _defaults() -> dict[str, Any]:
    out = {}
    for f in fields(FitConfig):
        out[f.name] = f.default if f.default is not MISSING else f.default_factory()
    return out


def options_markdown() -> str:
    """The option reference page: one row per option of :class:`FitConfig`."""
    defaults = _defaults()
    lines = [
        "# Options of a fit",
        "",
        "Generated from the table in `src/shiftvae/pipeline/options.py` by `make docs`; a test",
        "fails when this page and the table differ. In Python each option is a field of",
        "`sv.FitConfig`; on the command line it is the flag (of `fit`, `fit-many`, `sweep` and",
        "`tune`; `--beta START:END` is `fit`'s). On the command line `none`",
        'stands for None, and `auto` for a None that means "chosen from the image". Why the',
        "defaults are what they are: [command-line.md](command-line.md).",
        "",
        "| `FitConfig` field | flag | default | allowed | what |",
        "|---|---|---|---|---|",
    ]
    for option in OPTIONS:
        flag = "" if option.flag is None else f"`{option.cli}`"
        allowed = option.allowed().replace("|", "\\|")
        lines.append(
            f"| `{option.name}` | {flag} | `{defaults[option.name]!r}` | {allowed} "
            f"| {option.help} |"
        )
    return "\n".join(lines) + "\n"
