"""The one table of fit options: FitConfig, the flags, the checks and the docs agree."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

import shiftvae as sv
from shiftvae.commands.fit import add_args, config_from_args
from shiftvae.pipeline.options import OPTIONS, check_fit_options, options_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs" / "options.md"

# a value out of range for every option, and its command-line spelling (None: no flag)
BAD = {
    "window": (0, "0"),
    "step": (-4, "-4"),
    "binning": (0, "0"),
    "normalize": ("max", "max"),
    "background": (-1.0, "-1"),
    "lattice": (((1.0, 2.0, 3.0),), "1,2,3"),
    "centers": ("hexagons", "hexagons"),
    "columns": ("columns.txt", "columns.txt"),
    "reference": ((5, 5, 1, 1), "5,5,1,1"),
    "latent_dim": (0, "0"),
    "shift": ("yes", None),
    "shift_scale": (1.5, "1.5"),
    "position": ("sphere", "sphere"),
    "decoder": ("pixels", "pixels"),
    "encoder": ("rnn", "rnn"),
    "rotation": (5, "5"),
    "scale": ("shear", "shear"),
    "classes": (1, "1"),
    "labels": ("labels.txt", "labels.txt"),
    "values": ("values.txt", "values.txt"),
    "likelihood": ("poisson", "poisson"),
    "noise": (0.0, "0"),
    "coord_frequency": (-2.0, "-2"),
    "hidden": ((128, 0), None),
    "decoder_hidden": ((-1,), None),
    "epochs": (0, "0"),
    "batch_size": (0, "0"),
    "lr": (-1.0, "-1"),
    "beta_start": (0.0, None),
    "beta_end": (float("nan"), None),
    "seed": (-1, "-1"),
    "device": ("tpu", "tpu"),
    "precision": ("fp16", "fp16"),
    "phases": (0, "0"),
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(exit_on_error=False)
    add_args(p)
    return p


def test_every_field_of_fitconfig_has_one_row_and_every_row_a_field():
    assert [o.name for o in OPTIONS] == list(BAD)  # the table of bad values covers them all
    assert sorted(o.name for o in OPTIONS) == sorted(
        f.name for f in dataclasses.fields(sv.FitConfig)
    )


def test_the_defaults_pass_their_own_rules_and_the_command_line_gives_the_same_config():
    check_fit_options(sv.FitConfig())
    args = parser().parse_args(["scan.tif", "--out", "run"])
    assert config_from_args(args) == sv.FitConfig()


@pytest.mark.parametrize("name", list(BAD))
def test_a_bad_value_is_refused_in_python_and_on_the_command_line_by_the_same_rule(name):
    value, text = BAD[name]
    option = next(o for o in OPTIONS if o.name == name)
    with pytest.raises(sv.InputError, match=f"^{name} must be "):
        check_fit_options(dataclasses.replace(sv.FitConfig(), **{name: value}))
    if text is None:
        return
    with pytest.raises(argparse.ArgumentError) as caught:
        parser().parse_args(["scan.tif", "--out", "run", option.cli, text])
    assert f"{option.cli} must be {option.allowed(flags=True)}, got {text!r}" in str(caught.value)


def test_command_line_words_become_the_python_values():
    args = parser().parse_args(
        "scan.tif --out run --window auto --background none --lattice 0,20;20,0 --rotation "
        "--scale --normalize none --phases 3 --no-shift --device cuda:1".split()
    )
    config = config_from_args(args)
    assert config.window is None and config.background is None and config.normalize is None
    assert config.lattice == ((0.0, 20.0), (20.0, 0.0))
    assert (config.rotation, config.scale, config.phases) == ("auto", "isotropic", 3)
    assert config.shift is False and config.device == "cuda:1"


def test_rotation_and_scale_are_refused_with_the_lattice_coder_naming_both():
    with pytest.raises(sv.InputError, match="--rotation and --scale work with the MLP encoder"):
        check_fit_options(sv.FitConfig(rotation=4, decoder="lattice"), flags=True)


def test_the_option_reference_in_docs_is_the_table():
    assert DOCS.read_text(encoding="utf-8") == options_markdown(), "run: make docs"


def test_the_resume_command_reads_back_as_the_same_options():
    """Every option the user changed is written in its command-line spelling (None as
    'none', a lattice as R1,C1;R2,C2, --no-shift as the flag alone)."""
    import shlex

    from shiftvae.commands.fit import resume_command

    typed = (
        "scan.tif --out run --lattice 0,20.5;20,0 --phases none --no-shift --rotation "
        "--background none --coord-frequency none --beta 0.2:2 --seed 3"
    )
    args = parser().parse_args(typed.split())
    words = shlex.split(resume_command(args))
    assert words[:2] == ["shiftvae", "fit"] and words[-1] == "--resume"
    again = parser().parse_args(words[2:-1])
    assert config_from_args(again) == config_from_args(args)
