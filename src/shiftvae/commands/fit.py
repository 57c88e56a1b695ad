"""Train a shift-VAE on an image (or a series, in one latent space) and write its maps and report.

The image is cut into patches on a square grid and a shift-VAE is trained on them.  With a
lattice (found from the Fourier peaks unless given), the position latent lives on the unit
cell (fractional coordinates, a torus) and the motif is drawn as a Fourier series on the
lattice; the window is 1.5 cells.  Without one (--lattice none, or an image with no
lattice), it is the paper's model (Gaussian shift, window about 2.5 periods) with the canvas
decoder, which draws each patch once and moves it by a phase ramp (--decoder coordinate is
the paper's decoder); an image with no periodicity at all gets a 32 px window and no
position.  The step is window/2, or less on small images so that about 2500 patches fit;
the latent means are placed back on the grid.
Writes results.h5 (NeXus), model.pt, figures/*.png, report.html and run.json into --out;
nothing is left behind if the run fails.  Training state is saved every 10% of the epochs
(--checkpoint-every N) in the hidden folder .OUT.partial beside --out: after Ctrl-C, a
crash, or a diverged loss, it is kept there and --resume continues the run (the result is
the same as that of an uninterrupted run with the same seed, on the CPU).

Examples:
  shiftvae fit scan.dm3 --out run1
  shiftvae fit scan.tif --out run2 --window 64 --step 16 --beta 0.1:1 --epochs 100
  shiftvae fit stack.h5 --index 2 --out run3 --no-shift     # plain VAE baseline
  shiftvae fit scan.dm3 --out run4 --lattice none --decoder coordinate  # the paper's model
  shiftvae fit scan.dm3 --out run1 --resume                 # after Ctrl-C: continue
  shiftvae fit t0.dm3 t1.dm3 t2.dm3 --out series            # one model for a series
  shiftvae fit t3.dm3 --out t3 --transfer series/model.pt   # encode with it, no training
  shiftvae fit grains.tif --out grains --rotation --scale  # orientation and strain maps
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shlex
import time
from pathlib import Path

from shiftvae.commands.fit_series import check_series_options, run_series
from shiftvae.errors import InputError, OutputError, TrainingDivergedError, write_error
from shiftvae.model.vae import load_model
from shiftvae.pipeline.fit import FitConfig, fit_image
from shiftvae.pipeline.options import BY_NAME, OPTIONS, add_fit_options, check_fit_options
from shiftvae.pipeline.series import expand_paths
from shiftvae.report.fit_outputs import write_outputs
from shiftvae.report.outdir import (
    CHECKPOINT_INFO,
    CHECKPOINT_NAME,
    atomic_output_dir,
    check_output_dir,
    kept_checkpoint,
)
from shiftvae.types import Image

log = logging.getLogger(__name__)


def beta_pair(text: str) -> tuple[float, float]:
    """Parse 'START:END' (or one number for a constant beta)."""
    parts = text.split(":")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--beta must be START:END, got {text!r}") from None
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or not all(v > 0 for v in values):
        raise argparse.ArgumentTypeError(
            f"--beta needs two positive numbers START:END, got {text!r}"
        )
    return values[0], values[1]


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_model_args(
    p: argparse.ArgumentParser, several: bool = False, image_help: str | None = None
) -> None:
    """Options shared by fit, fit-many, sweep and tune (``several``: one image or more)."""
    if several:
        p.add_argument(
            "image",
            type=Path,
            nargs="+",
            help=image_help
            or "image file (dm3, dm4, emd, ser, tif, png, npy, h5...); several: one model "
            "for the series, maps in one latent space",
        )
    else:
        p.add_argument(
            "image", type=Path, help="image file (dm3, dm4, emd, ser, tif, png, npy, h5...)"
        )
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    p.add_argument(
        "--index", default=None, help="which image of a multi-image file (number or dataset name)"
    )
    p.add_argument(
        "--fill-nan",
        action="store_true",
        help="replace NaN/Inf pixels by the median instead of refusing the image",
    )
    p.add_argument(
        "--no-figures",
        dest="figures",
        action="store_false",
        help="draw no figures/*.png (about 0.5 s each, a dozen per fit): report.html keeps "
        "its tables, results.h5 and the CSV files every number",
    )
    add_fit_options(p)


def add_args(p: argparse.ArgumentParser) -> None:
    add_model_args(p, several=True)
    p.add_argument(
        "--beta",
        type=beta_pair,
        default=(0.1, 1.0),
        metavar="START:END",
        help="KL weight ramped linearly from START to END (default 0.1:1)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted run kept beside --out (same image and options)",
    )
    p.add_argument(
        "--transfer",
        type=Path,
        metavar="MODEL.pt",
        help="encode the image with this trained model instead of training one (the window, "
        "centres and other geometry are the model's): maps of a series in one latent space",
    )
    p.add_argument(
        "--checkpoint-every",
        type=positive_int,
        metavar="N",
        help="save the training state every N epochs (default: every 10%% of them)",
    )


def load_input(args: argparse.Namespace):
    """Read and validate the image named on the command line."""
    from shiftvae.io.readers import read_image
    from shiftvae.io.validate import fill_nan

    index = args.index
    if index is not None and index.lstrip("-").isdigit():
        index = int(index)
    if args.fill_nan:
        image = read_image(args.image, index=index, allow_nonfinite=True)
        image.data = fill_nan(image.data)
        return image
    return read_image(args.image, index=index)


def config_from_args(args: argparse.Namespace, **override) -> FitConfig:
    """The FitConfig of the command line, every option checked (before any work)."""
    flagged = [o.name for o in OPTIONS if o.flag is not None]
    values = {name: getattr(args, name) for name in flagged if hasattr(args, name)}
    beta = getattr(args, "beta", None)
    if beta is not None:
        values.update(beta_start=beta[0], beta_end=beta[1])
    values.update(override)
    config = FitConfig(**values)
    check_fit_options(config, flags=True)
    return config


def main(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    resume = getattr(args, "resume", False)
    if isinstance(args.image, list):
        args.image = expand_paths(args.image)  # quoted globs; one matching nothing is refused
    if isinstance(args.image, list) and len(args.image) > 1:
        return _series(args)
    if isinstance(args.image, list):
        args.image = args.image[0]
    check_output_dir(args.out, args.overwrite, resume)  # fail before any work
    if getattr(args, "transfer", None) is not None:
        return _transfer(args, started)
    config = config_from_args(args)
    image = load_input(args)
    # a kept run is never deleted by a failed --resume (wrong options, full disk...)
    resuming = resume and kept_checkpoint(args.out) is not None
    keep = (lambda folder, exc: True) if resuming else _worth_keeping
    with atomic_output_dir(args.out, args.overwrite, resume, keep_if=keep) as tmp:
        ckpt = tmp / CHECKPOINT_NAME
        _record_run(tmp, image, config, resume)
        try:
            result = fit_image(
                image,
                config,
                progress=True,
                checkpoint=ckpt,
                resume=resume,
                checkpoint_every=getattr(args, "checkpoint_every", None) or 0,
            )
        except TrainingDivergedError as exc:
            lower = f"{config.lr / 3:.2g}"
            raise TrainingDivergedError(f"{exc}; {_kept(args, ckpt, lr=lower)}") from exc
        except KeyboardInterrupt:
            args.interrupt_note = _kept(args, ckpt)  # printed by the command line
            raise
        try:
            write_outputs(tmp, result, started, args.figures)
        except OSError as exc:  # a full disk, say: the trained checkpoint is kept
            error = exc if isinstance(exc, OutputError) else write_error(exc, "the results")
            raise OutputError(f"{error}; {_kept(args, ckpt)}") from exc
        for name in (CHECKPOINT_NAME, CHECKPOINT_INFO):
            (tmp / name).unlink(missing_ok=True)
    m = result.metrics
    log.info(
        "physicality %.4f; wrote %s/report.html in %.0f s",
        m["physicality"],
        args.out,
        time.perf_counter() - started,
    )
    return 0


def _series(args: argparse.Namespace) -> int:
    """``fit A B C ...``: one model for the series (see :mod:`shiftvae.commands.fit_series`)."""
    why = check_series_options(args)
    if why is not None:
        raise InputError(why)
    check_output_dir(args.out, args.overwrite)  # fail before any work
    config = config_from_args(args)
    paths = list(args.image)
    frames = []
    for path in paths:
        args.image = path
        frames.append(load_input(args))
    args.image = paths
    run_series(args.out, args.overwrite, frames, config, args.figures)
    log.info("one model for %d images; wrote %s", len(frames), args.out)
    return 0


def _transfer(args: argparse.Namespace, started: float) -> int:
    """``fit --transfer MODEL.pt``: encode with a trained model and write the usual folder."""
    from shiftvae.pipeline.transfer import transfer_image

    if args.resume:
        raise InputError("--transfer trains nothing, so there is nothing to --resume")
    model = load_model(args.transfer)  # a bad model file fails before any work
    image = load_input(args)
    with atomic_output_dir(args.out, args.overwrite) as tmp:
        result = transfer_image(model, image)
        write_outputs(tmp, result, started, args.figures)
    log.info("encoded with %s; wrote %s/report.html", args.transfer, args.out)
    return 0


def _worth_keeping(folder: Path, exc: BaseException) -> bool:
    """Keep the temporary folder of an interrupted or diverged run, or of one whose outputs
    could not be written, when it has a checkpoint."""
    return isinstance(exc, KeyboardInterrupt | TrainingDivergedError | OutputError) and (
        (folder / CHECKPOINT_NAME).is_file()
    )


def _kept(args: argparse.Namespace, ckpt: Path, **changes: str) -> str:
    """What was kept after an interruption, and the command that continues from it."""
    from shiftvae.model.train import load_checkpoint

    if not ckpt.is_file():
        return "no checkpoint had been written yet, so nothing was kept"
    try:
        state = load_checkpoint(ckpt)
    except InputError:
        return f"the checkpoint in {ckpt.parent} could not be read back; start over"
    return (
        f"the checkpoint of epoch {state['epoch']} of {state['epochs']} is kept in "
        f"{ckpt.parent}; continue from it with: {resume_command(args, **changes)}"
    )


def resume_command(args: argparse.Namespace, **changes: str) -> str:
    """The ``shiftvae fit`` command line that continues the run of ``args``.

    Every option whose value differs from its default is written out (whatever
    abbreviation was typed), ``changes`` replace values (``lr="3e-4"``), and ``--resume``
    is added.
    """
    parser = argparse.ArgumentParser(add_help=False)
    add_args(parser)
    words = ["shiftvae", "fit"]
    for action in parser._actions:
        dest = action.dest
        value = getattr(args, dest, action.default)
        if dest in changes:
            words += [action.option_strings[0], changes[dest]]
        elif not action.option_strings:
            words.append(str(value))
        elif dest == "resume" or value == action.default:
            continue
        elif isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction):
            words.append(action.option_strings[0])
        elif dest == "beta":
            words += [action.option_strings[0], f"{value[0]!r}:{value[1]!r}"]
        elif dest in BY_NAME:
            words += [action.option_strings[0], BY_NAME[dest].spell(value)]
        else:
            words += [action.option_strings[0], str(value)]
    return shlex.join([*words, "--resume"])


def _record_run(folder: Path, image: Image, config: FitConfig, resume: bool) -> None:
    """Write what this run trains on; on --resume, refuse a different image or options.

    Only the learning rate may change on resume (to continue a diverged run more gently).
    """
    info = {
        "image": image.source,
        "image_sha256": hashlib.sha256(image.data.tobytes()).hexdigest(),
        "image_shape": list(image.data.shape),
        "config": json.loads(json.dumps(config.as_dict())),
    }
    path = folder / CHECKPOINT_INFO
    if resume and (folder / CHECKPOINT_NAME).is_file():
        try:
            before = json.loads(path.read_text())
        except (OSError, ValueError):
            raise OutputError(
                f"{folder} has a checkpoint but no readable {CHECKPOINT_INFO}: it cannot be "
                "resumed safely; start over with --overwrite"
            ) from None
        changed = _differences(before, info)
        if changed:
            raise InputError(
                f"the interrupted run in {folder} was started with {', '.join(changed)}: "
                "resume with the same image and options, or start over with --overwrite"
            )
    path.write_text(json.dumps(info, indent=2))


def _differences(before: dict, now: dict) -> list[str]:
    """'epochs 30 (now 40)' for every setting that differs, the learning rate excepted."""
    out = []
    if before.get("image_sha256") != now["image_sha256"]:
        out.append(f"another image ({before.get('image')})")
    old, new = before.get("config", {}), now["config"]
    for key in sorted(set(old) | set(new)):
        if key != "lr" and old.get(key) != new.get(key):
            out.append(f"{key} {old.get(key)} (now {new.get(key)})")
    return out


__all__ = ["OutputError", "add_args", "main", "resume_command"]
