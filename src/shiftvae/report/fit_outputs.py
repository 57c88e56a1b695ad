"""Write the full set of outputs of one image fit into a folder."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from shiftvae.analysis.columns import above_noise, displacement_errors, displacements
from shiftvae.report.fit_report import fit_figures, write_fit_report
from shiftvae.report.outdir import atomic_output_dir, describe_os_error, write_csv_atomic
from shiftvae.report.runinfo import run_info, write_run_json
from shiftvae.results import write_results_h5

# Matplotlib is not thread-safe: fits sharing a process (threaded workers) plot one by one.
PLOT_LOCK = threading.Lock()


def save_results(
    result, out_dir: str | Path, overwrite: bool = False, figures: bool = True
) -> Path:
    """Write the folder ``shiftvae fit`` writes, for a :func:`~shiftvae.fit_image` result.

    results.h5, model.pt, figures/*.png, report.html and run.json appear in ``out_dir``
    together or not at all (they are written to a hidden temporary folder first).

    Parameters
    ----------
    result : FitResult
        What :func:`shiftvae.fit_image` returned.
    out_dir : path
        Output folder; an existing one is refused unless ``overwrite``.
    figures : bool
        Draw figures/*.png (about half a second each).  Without them report.html still
        holds the summary tables, and every number is in results.h5 and the CSV files.

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    OutputError
        ``out_dir`` exists, its parent is not a writable folder, or writing failed (a full
        disk is named as such).

    Examples
    --------
    >>> result = sv.fit_image(sv.read_image("scan.dm3"))  # doctest: +SKIP
    >>> sv.save_results(result, "run1")  # doctest: +SKIP
    >>> sv.load_results("run1").maps.z.shape  # doctest: +SKIP
    """
    started = time.perf_counter() - sum(result.timings.values())
    with atomic_output_dir(out_dir, overwrite=overwrite) as tmp:
        write_outputs(tmp, result, started, figures)
    return Path(out_dir)


COLUMN_FIELDS = [
    "cell_i",
    "cell_j",
    "sublattice",
    "row_px",
    "col_px",
    "row_std_px",
    "col_std_px",
    "height",
    "displacement_row",
    "displacement_col",
    "displacement_row_std",
    "displacement_col_std",
    "above_noise",
    "displacement_unit",
]


def write_columns_csv(path: Path, columns, image, maps=None) -> Path:
    """One row per column found: its cell, sublattice, position and its standard error,
    height and (for all but the reference sublattice 0) its displacement from its cage with
    its standard error, in pm where calibrated, and whether it stands above that error.
    With the fit's ``maps``, the latents of the patch whose centre is nearest the column
    (z1, z2, ...) and, with classes, its class and that class's probability."""
    fields = list(COLUMN_FIELDS)
    per_patch = {}
    if maps is not None:
        from scipy.spatial import cKDTree

        patch_values = {f"z{i + 1}": m.ravel() for i, m in enumerate(maps.z)}
        if maps.class_probs is not None:
            patch_values["class"] = maps.classes.ravel()
            patch_values["class_probability"] = maps.class_probs.max(0).ravel()
        if maps.values is not None:
            for name, v, e in zip(maps.value_names, maps.values, maps.value_std):
                patch_values[name] = v.ravel()
                patch_values[f"{name}_std"] = e.ravel()
        fields += list(patch_values)
        found = np.isfinite(columns.positions).all(-1)
        nearest = np.zeros(columns.heights.shape, dtype=int)
        if found.any():
            tree = cKDTree(maps.centers.reshape(-1, 2))
            nearest[found] = tree.query(columns.positions[found])[1]
        per_patch = {k: v[nearest] for k, v in patch_values.items()}
    moved = displacements(columns, image)
    errors = displacement_errors(columns, image)
    spread = columns.position_std
    rows = []
    n_rows, n_cols, n_sites = columns.heights.shape
    for i in range(n_rows):
        for j in range(n_cols):
            for s in range(n_sites):
                row, col = columns.positions[i, j, s]
                if not np.isfinite(row):
                    continue
                entry = {
                    "cell_i": int(columns.cells[i, j, 0]),
                    "cell_j": int(columns.cells[i, j, 1]),
                    "sublattice": s,
                    "row_px": round(float(row), 3),
                    "col_px": round(float(col), 3),
                    "height": round(float(columns.heights[i, j, s]), 5),
                }
                for key, values in per_patch.items():
                    value = values[i, j, s]
                    entry[key] = int(value) if key == "class" else round(float(value), 4)
                if spread is not None and np.isfinite(spread[i, j, s]).all():
                    entry.update(
                        row_std_px=round(float(spread[i, j, s, 0]), 4),
                        col_std_px=round(float(spread[i, j, s, 1]), 4),
                    )
                if s in moved and np.isfinite(moved[s][0][i, j]).all():
                    values, unit = moved[s]
                    entry.update(
                        displacement_row=round(float(values[i, j, 0]), 3),
                        displacement_col=round(float(values[i, j, 1]), 3),
                        displacement_unit=unit,
                    )
                    if s in errors and np.isfinite(errors[s][i, j]).all():
                        std = errors[s][i, j]
                        entry.update(
                            displacement_row_std=round(float(std[0]), 3),
                            displacement_col_std=round(float(std[1]), 3),
                            above_noise=int(above_noise(values[i, j], std)),
                        )
                rows.append(entry)
    return write_csv_atomic(path, fields, rows)


def write_outputs(folder: Path, result, started: float, figures: bool = True) -> None:
    """results.h5, model.pt, figures (unless ``figures`` is False), report.html, run.json
    into ``folder``.

    ``result`` is a :class:`shiftvae.pipeline.FitResult`; ``started`` a perf_counter time.
    """
    try:
        write_results_h5(folder / "results.h5", result)
        if getattr(result, "columns", None) is not None:
            write_columns_csv(folder / "columns.csv", result.columns, result.image, result.maps)
        result.model.save(folder / "model.pt")
        figs = fit_figures(result, folder / "figures") if figures else None
        write_fit_report(folder / "report.html", result, figs)
        timings = {**result.timings, "total": time.perf_counter() - started}
        write_run_json(
            folder / "run.json",
            run_info(
                result.config.seed,
                timings,
                config=result.config.as_dict(),
                geometry=result.geometry.as_dict(),
                metrics=result.metrics,
                image=result.image.source,
            ),
        )
    except OSError as exc:
        raise describe_os_error(exc, folder) from exc
