"""Figures and report.html of an image fit (``shiftvae fit``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from shiftvae.analysis.classes import CONFIDENT, class_uncertainty
from shiftvae.analysis.columns import above_noise, displacement_errors, displacements
from shiftvae.analysis.dislocations import describe_dislocations
from shiftvae.analysis.manifold import latent_traversal
from shiftvae.explore.explorer import explorer_data, explorer_html
from shiftvae.lattice.estimate import Lattice
from shiftvae.report import figures
from shiftvae.report.html import Section, write_report


def _extent(maps, image) -> tuple[float, float, float, float]:
    """Map extent in calibrated units (or px) for imshow: left, right, bottom, top."""
    c = maps.centers
    half = maps.step / 2
    s = image.pixel_size or 1.0
    return (
        (c[0, 0, 1] - half) * s,
        (c[0, -1, 1] + half) * s,
        (c[-1, 0, 0] + half) * s,
        (c[0, 0, 0] - half) * s,
    )


def _error_note(summary: dict, site: int, unit: str) -> str:
    """The caption's words on the displacement's error bars, from the column summary."""
    error = summary.get(f"site{site}_displacement_error")
    if error is None:
        return ""
    share = summary.get(f"site{site}_above_noise_share", 0.0)
    return (
        f"; standard error per cell (median) {error[1]:.2f} {unit} along x and {error[0]:.2f} "
        f"along y; {100 * share:.0f}% of the cells stand above their error at 95% (the angle "
        "is blank elsewhere)"
    )


def fit_figures(result: Any, fig_dir: Path) -> list[tuple[Path, str]]:
    """Write every figure of a fit; return (path, caption) pairs in report order."""
    img, maps, enc, model = result.image, result.maps, result.encoding, result.model
    unit = img.unit if img.pixel_size else "px"
    ext = _extent(maps, img)
    out = []

    def add(fig, name, caption):
        out.append((figures.save(fig, fig_dir / f"{name}.png"), caption))

    add(
        figures.image_with_grid(img.data, maps.centers, result.geometry.window),
        "image_grid",
        f"image with patch centres (orange) and one {result.geometry.window} px window (red)",
    )
    names = [f"z{i + 1} (smoothness {s:.3f})" for i, s in enumerate(result.metrics["smoothness_z"])]
    add(
        figures.map_panels(maps.z, names, ext, unit, title="conventional latent maps"),
        "latent_maps",
        "conventional latent maps: order parameters should vary smoothly",
    )
    if maps.z_smooth is not None:
        px = result.image.pixel_size
        widths = [f"{w * px:.3g} {unit}" if px else f"{w:.3g} px" for w in maps.smoothing_px]
        errors = [float(np.median(e)) for e in maps.z_smooth_std]
        names = [
            f"z{i + 1}, width {w} (error {e:.2g})" for i, (w, e) in enumerate(zip(widths, errors))
        ]
        add(
            figures.map_panels(maps.z_smooth, names, ext, unit, title="smoothed latent maps"),
            "smoothed_maps",
            "the latent maps averaged over neighbouring cells, each with the Gaussian width that "
            "predicts cells best from cells whose patches they do not share; the median standard "
            "error is in brackets (results.h5: smoothed_maps)",
        )
    if maps.shift.shape[0]:
        add(
            figures.map_panels(
                maps.shift,
                ["shift, rows (px)", "shift, cols (px)"],
                ext,
                unit,
                cmap="twilight",
                title="shift maps",
            ),
            "shift_maps",
            "shift maps: the moire between the sampling grid and the lattice",
        )
    if maps.lattice_phase is not None:
        add(
            figures.map_panels(
                maps.lattice_phase,
                ["position along a1 (rad)", "position along a2 (rad)"],
                ext,
                unit,
                cmap="twilight",
                title="position in the unit cell",
            ),
            "lattice_phase_maps",
            "position in the unit cell as a phase 2 pi (u, v) along the lattice vectors: "
            "smooth drifts are strain or scan distortion, steps are domain walls or defects",
        )
    if maps.registration is not None:
        reg = result.metrics.get("registration") or {}
        add(
            figures.map_panels(
                maps.registration,
                ["displacement, rows (px)", "displacement, cols (px)", "branch"],
                ext,
                unit,
                cmap="coolwarm",
                title="registration of the whole image",
            ),
            "registration_maps",
            "the lattice registered over the whole image: its displacement field and the "
            "branch (1 beyond an antiphase boundary). "
            + (
                reg.get("note", "") + f"; {reg.get('disagree', 0)} cells' trained position "
                "disagrees with it by more than an eighth of a cell"
                if reg
                else ""
            ),
        )
    strain = getattr(result, "strain", None)
    if strain is not None:
        add(
            figures.strain_panels(strain, _image_extent(img), unit),
            "strain_maps",
            "strain (%) and rotation (degrees, counter-clockwise) by geometric phase analysis "
            + (
                "of each grain against the common cell turned to it (blank near boundaries)"
                if getattr(strain, "grains", None) is not None
                else "of the image against its median lattice"
            )
            + f", averaged over a Gaussian of {strain.resolution:.0f} px std; x to the right, "
            "y down",
        )
    columns = getattr(result, "columns", None)
    moved_by = {} if columns is None else displacements(columns, img)
    errors = {} if columns is None else displacement_errors(columns, img)
    for site, (moved, length) in moved_by.items():
        significant = above_noise(moved, errors[site]) if site in errors else None
        add(
            figures.displacement_arrows(
                img.data, columns.positions[:, :, site], moved, length, significant
            ),
            f"displacement_site{site}",
            f"sublattice {site} (fractional site {np.round(columns.sites[site], 2).tolist()}, "
            f"brightness {result.metrics['columns']['relative_height'][site]:.2f} of sublattice "
            f"0) from the centre of its four sublattice-0 columns, less the median: "
            f"polarisation in {length}, per cell as components, magnitude and angle"
            + _error_note(result.metrics["columns"], site, length)
            + "; the table of every column is columns.csv",
        )
    if maps.orientation is not None:
        n = int(result.geometry.rotation or 1)
        add(
            figures.orientation_map(
                maps.orientation, n, img.data, ext, unit, image_extent=_image_extent(img)
            ),
            "orientation_map",
            f"orientation of the pattern (degrees, counter-clockwise, modulo {360 / n:g} for "
            f"the {n}-fold symmetry): grains and rotated domains",
        )
    if maps.scale is not None:
        names = (
            ["relative lattice parameter"]
            if len(maps.scale) == 1
            else [
                "relative lattice parameter, motif axis 1",
                "relative lattice parameter, motif axis 2",
            ]
        )
        add(
            figures.map_panels(maps.scale, names, ext, unit, cmap="viridis", title="scale"),
            "scale_maps",
            "lattice parameter relative to the motif's: strain (1.01 is 1% tensile)",
        )
    if maps.phases is not None:
        add(
            figures.phase_overlay(img.data, maps.phases, maps.centers, maps.step),
            "phases",
            "Gaussian-mixture phases of the conventional latents over the image",
        )
    if maps.class_probs is not None:
        add(
            figures.phase_overlay(
                img.data, maps.classes, maps.centers, maps.step, "classes", "class"
            ),
            "classes",
            "the most probable class of every cell (the mixture prior's components)",
        )
        add(
            figures.map_panels(
                class_uncertainty(maps.class_probs)[None],
                ["1 - probability of the class"],
                ext,
                unit,
                cmap="magma",
                title="class uncertainty",
            ),
            "class_uncertainty",
            f"uncertain where above {1 - CONFIDENT:g}: cells between classes",
        )
        add(
            figures.motif_strip(model.class_motifs()),
            "class_motifs",
            "each class's motif, decoded at the centre of its component",
        )
    if maps.values is not None:
        names = list(maps.value_names)
        add(
            figures.map_panels(maps.values, names, ext, unit, cmap="viridis", title="properties"),
            "property_maps",
            "each property predicted from the latents by the head trained on the values given",
        )
        add(
            figures.map_panels(
                maps.value_std, [f"{n} error bar" for n in names], ext, unit, cmap="magma"
            ),
            "property_std",
            "1-sigma error bars: the head's prediction interval, wider away from the values",
        )
    colors = {"row": maps.centers[..., 0].ravel()}
    if maps.phases is not None:
        colors = {"phase": maps.phases.ravel()}
    if maps.class_probs is not None:
        colors = {"class": maps.classes.ravel()}
    add(
        figures.latent_scatter(enc.z_mean, colors, title="latent distribution"),
        "latent_distribution",
        "encoded latent means of all patches",
    )
    lim = np.percentile(enc.z_mean, [1, 99], axis=0).T
    t = latent_traversal(model, n=8, limits=lim if model.config.latent_dim > 1 else lim[0])
    add(
        figures.traversal_grid(t.images, t.values, title="decoded latent manifold"),
        "manifold",
        "patches decoded over the latent plane (1st-99th percentile of the data)",
    )
    add(figures.history_curves(model.history_.as_dict()), "training", "training curves")
    return out


def _first_layer(coord_frequency: float | None) -> str:
    if coord_frequency is None:
        return "tanh (the paper's)"
    return f"sine, up to {coord_frequency:.3g} cycles per patch side"


def _lattice_text(lattice: Lattice | None, position: str) -> str:
    if lattice is None and position == "none":
        return "none found: no position latent, Fourier coder over the window"
    if lattice is None:
        return "none (the paper's model)"
    periods = ", ".join(f"{p:.2f}" for p in lattice.periods)
    return (
        f"periods {periods} px at {lattice.angle_deg:.1f} deg, confidence {lattice.confidence:.2f}"
    )


def _background_text(sigma: float | None) -> str:
    return "none" if not sigma else f"a Gaussian blur of the image, std {sigma:.0f} px"


def _likelihood_text(model_config: Any) -> str:
    if model_config.likelihood == "gaussian":
        return f"Gaussian, noise std {model_config.gaussian_std:.3g} (of the scaled patches)"
    return "Bernoulli (the paper's)"


def write_fit_report(path: Path, result: Any, figs: list[tuple[Path, str]] | None) -> Path:
    """report.html of a fit; ``figs`` None: the figures were not drawn (--no-figures)."""
    m, cfg, geo, img = result.metrics, result.config, result.geometry, result.image
    cal = f"{img.pixel_size:.4g} {img.unit}/px" if img.pixel_size else "uncalibrated"
    rows = [
        ["image", f"{img.data.shape[0]} x {img.data.shape[1]} px ({cal})"],
        ["window / step / binning", f"{geo.window} / {geo.step} / {geo.binning} px"],
        ["estimated period", f"{geo.period_px:.1f} px" if geo.period_px else "n/a"],
        ["lattice", _lattice_text(geo.lattice, geo.position)],
        [
            "position / decoder / encoder",
            " / ".join((geo.position, geo.decoder, geo.encoder)),
        ],
        [
            "patches (grid)",
            f"{len(result.patches)} ({result.maps.z.shape[1]} x {result.maps.z.shape[2]})",
        ],
        ["model", "shift-VAE" if cfg.shift else "VAE (no shift)"],
        ["background removed", _background_text(geo.background)],
        ["likelihood", _likelihood_text(result.model.config)],
        ["decoder first layer", _first_layer(geo.coord_frequency)],
        ["beta start -> end", f"{cfg.beta_start:g} -> {cfg.beta_end:g}"],
        ["epochs", geo.epochs or cfg.epochs],
        ["final loss", f"{m['final_loss']:.3f}"],
        ["physicality (best smoothness)", f"{m['physicality']:.4f}"],
        ["smoothness z", ", ".join(f"{s:.4f}" for s in m["smoothness_z"])],
        ["training time", f"{result.timings.get('train', 0):.1f} s"],
    ]
    if geo.transfer:
        rows.append(["training", "none: encoded with a trained model (fit --transfer)"])
    if "n_phases" in m:
        rows.append(["phases (BIC)", m["n_phases"]])
    if "classes" in m:
        c = m["classes"]
        rows.append(
            [
                "classes (cells per class)",
                f"{', '.join(str(n) for n in c['counts'])}; mean probability "
                f"{c['mean_probability']:.3f}, {c['uncertain_cells']} uncertain, "
                f"{c['boundary_cells']} on boundaries",
            ]
        )
    rows.append(["strain, rotation (GPA)", _strain_text(m.get("strain"))])
    if "grains" in m:
        g = m["grains"]
        rows.append(
            [
                "grains (GPA per grain)",
                f"{g['count']}, at {', '.join(f'{t:.0f}' for t in g['orientation_deg'])} deg; "
                f"common cell {g['common_cell_px']:.3f} px (the grains' median, or the "
                "reference region's)",
            ]
        )
    if "dislocations" in m:
        rows.append(["dislocations (GPA phase circuits)", describe_dislocations(m["dislocations"])])
    sections = [Section("Summary", tables=[(["", ""], rows)])]
    if m.get("latent_meanings"):
        sections.append(_meanings_section(m["latent_meanings"]))
    if figs is None:
        text = "Not drawn (--no-figures): every map is in results.h5, every column in columns.csv."
        sections.append(Section("Figures", text=text))
    else:
        sections.append(Section("Figures", figures=figs))
    columns = getattr(result, "columns", None)
    data = explorer_data(
        img, result.maps, result.patches, result.model, result.encoding, columns=columns
    )
    head, body = explorer_html(data)
    return write_report(
        path,
        f"shiftvae fit: {Path(img.source).name or 'image'}",
        sections,
        meta="configuration and versions in run.json; maps in results.h5",
        interactive=(head, "Explore: click a cell on any map", body),
    )


def _meanings_section(meanings: list[dict]) -> Section:
    """A table of what each latent does to the decoded motif's columns, in pm and %."""
    rows = []
    for entry in meanings:
        for key in sorted(k for k in entry if k.startswith("site")):
            m = entry[key]
            dy, dx = m["displacement_over_range"]
            rows.append(
                [
                    entry["latent"],
                    f"{entry['range'][0]:.2f} to {entry['range'][1]:.2f}",
                    key[4:],
                    f"{dx:+.1f} {m['unit']}",
                    f"{dy:+.1f} {m['unit']}",
                    f"{m['brightness_percent_over_range']:+.1f}%",
                ]
            )
    header = ["latent", "range over the image", "sublattice", "moves along x", "along y",
              "brightness vs sublattice 0"]  # fmt: skip
    return Section(
        "What each latent means",
        text="Each latent moved over the range the image's cells take (5th to 95th "
        "percentile, the others at their medians), the motif decoded at each step and its "
        "columns measured as on the image: the change over that range (run.json: "
        "latent_meanings, also per unit).",
        tables=[(header, rows)],
    )


def _strain_text(summary: dict | None) -> str:
    if not summary:
        return "none: no lattice, so no strain or rotation maps were made"
    parts = [
        f"{name} median {summary[name + '_median']:+.2f}{unit}, 99% of |{name}| below "
        f"{summary[name + '_p99_abs']:.2f}{unit}"
        + (
            f", standard error {summary[name + '_error_median']:.3f}{unit}"
            if name + "_error_median" in summary
            else ""
        )
        for name, unit in (("exx", "%"), ("eyy", "%"), ("exy", "%"), ("rotation", " deg"))
    ]
    return "; ".join(parts) + (
        " (errors: noise and line jitter, from the even against the odd scan lines, and "
        "the averaging's bias where the field curves within a resolution)"
        if "exx_error_median" in summary
        else ""
    )


def _image_extent(img) -> tuple[float, float, float, float]:
    """The image's extent (left, right, bottom, top) in its calibrated unit (or px)."""
    px = img.pixel_size or 1.0
    h, w = img.data.shape
    return (-0.5 * px, (w - 0.5) * px, (h - 0.5) * px, -0.5 * px)
