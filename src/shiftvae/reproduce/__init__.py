"""The paper's figures, reproduced: one module per figure, each with the same ``run``.

``run(out_dir, quick, seed, **opts) -> dict`` trains what the figure needs, writes its PNGs
and a ``numbers.json`` (configuration, seed, numbers, timings) into ``out_dir`` and returns
the numbers.  ``shiftvae reproduce FIGURE --out DIR`` and the scripts in ``examples/`` call
these functions; ``docs/reproduction.md`` compares their numbers with the paper.

Examples
--------
>>> from shiftvae.reproduce import run_figure
>>> numbers = run_figure("fig4", Path("fig4-out"), quick=True)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from shiftvae.errors import InputError

# figure name -> (module, fixed options)
FIGURES: dict[str, tuple[str, dict[str, Any]]] = {
    "fig2": ("fig2", {}),
    "fig3": ("fig3", {}),
    "fig4": ("fig4", {}),
    "fig6": ("fig67", {"models": ("vae",)}),
    "fig7": ("fig67", {"models": ("shift_vae",)}),
    "fig8": ("fig8", {}),
}


def run_figure(
    name: str, out_dir: Path, quick: bool = False, seed: int = 0, **opts: Any
) -> dict[str, Any]:
    """Run one figure (``fig2`` ... ``fig8``) into the existing folder ``out_dir``."""
    if name not in FIGURES:
        raise InputError(f"unknown figure {name!r}: choose one of {', '.join(FIGURES)}")
    module_name, fixed = FIGURES[name]
    module = importlib.import_module(f"shiftvae.reproduce.{module_name}")
    return module.run(Path(out_dir), quick=quick, seed=seed, **{**opts, **fixed})


__all__ = ["FIGURES", "run_figure"]
