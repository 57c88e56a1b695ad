"""Write the full set of outputs of one image fit into a folder."""

from __future__ import annotations

import time
from pathlib import Path

from shiftvae.report.fit_report import fit_figures, write_fit_report
from shiftvae.report.outdir import describe_os_error
from shiftvae.report.runinfo import run_info, write_run_json
from shiftvae.results import write_results_h5


def write_outputs(folder: Path, result, started: float) -> None:
    """results.h5, model.pt, figures, report.html, run.json into ``folder``.

    ``result`` is a :class:`shiftvae.pipeline.FitResult`; ``started`` a perf_counter time.
    """
    try:
        write_results_h5(folder / "results.h5", result)
        result.model.save(folder / "model.pt")
        figs = fit_figures(result, folder / "figures")
        write_fit_report(folder / "report.html", result, figs)
        timings = {**result.timings, "total": time.perf_counter() - started}
        write_run_json(
            folder / "run.json",
            run_info(
                result.config.seed,
                timings,
                config=result.config.as_dict(),
                geometry=result.geometry,
                metrics=result.metrics,
                image=result.image.source,
            ),
        )
    except OSError as exc:
        raise describe_os_error(exc, folder) from exc
