"""results.h5: the maps and encodings of a fit, laid out as NeXus so common tools open it.

Layout (every ``NXdata`` group has calibrated ``y``/``x`` axes, so HyperSpy's ``hs.load``,
silx, h5web and NeXpy show the maps directly)::

    /entry                      NXentry, default = "latent_maps"
      latent_maps   NXdata      z      (l, rows, cols)  conventional latent means
      smoothed_maps NXdata      z      (l, rows, cols)  the latent maps averaged over
                                neighbouring cells, z_errors their standard errors; attrs
                                smoothing_px (l,): each map's Gaussian width in px
      shift_maps    NXdata      shift  (d, rows, cols)  shift in pixels, (row, col)
      phase_map     NXdata      phases (rows, cols)     Gaussian-mixture labels (if any)
      lattice_phase_maps NXdata phase (2, rows, cols) position in the cell, 2 pi (u, v) in rad
                                                       (torus position only)
      orientation_map NXdata orientation (rows, cols)  degrees, ccw as displayed (rotation)
      scale_maps    NXdata      scale  (1 or 2, rows, cols) relative lattice parameter (scale)
      registration_maps NXdata  displacement (2, rows, cols) px of the registered lattice
      registration_branch NXdata branch (rows, cols)   1 beyond an antiphase boundary
      class_map     NXdata      classes (rows, cols)    most probable class (with classes);
                                probabilities (K, rows, cols), uncertainty (rows, cols) =
                                1 - the chosen class's probability, boundaries (rows, cols)
                                1 where a neighbour has another class; attrs counts (JSON)
      property_maps NXdata      values (P, rows, cols)  predicted properties (with --values),
                                std (P, rows, cols) their error bars; attrs names (JSON)
      strain_maps   NXdata      strain (3, H, W)        exx, eyy, exy in % (x right, y down),
                                                         NaN where the fringes are unclear;
                                dislocations (N, 8): core row, col px, Burgers vector
                                (row, col) px and in cells (a1, a2), phase windings;
                                grains (H, W): a polycrystal's grain of each pixel
      rotation_map  NXdata      rotation (H, W)         degrees, ccw as displayed
                                (both by GPA against the image's median lattice)
      columns       NXcollection positions (R, C, S, 2) px of every sublattice's column per
                                 cell, heights, sites (fractional), cells,
                                 position_std (R, C, S, 2) px, and
                                 displacement_siteN (R, C, 2) from the cage, pm (or px),
                                 with its standard error displacement_siteN_std
      image         NXdata      data   (H, W)           the analysed image
      encoding      NXcollection z_mean, z_std, shift_mean, shift_std, centers (N, 2) px,
                                 phase_mean, phase_std (torus position only),
                                 orientation_mean/_std (deg), scale_mean/_std (with pose),
                                 class_probs (N, K) (with classes),
                                 values, value_std (N, P) (with properties)
      history       NXcollection loss, reconstruction, kl, beta, seconds per epoch
      attrs: config, geometry, metrics (JSON), pixel_size, unit, source, shiftvae version
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from shiftvae._version import __version__
from shiftvae.analysis.classes import class_boundaries, class_summary, class_uncertainty
from shiftvae.analysis.columns import (
    Columns,
    cage_displacements,
    displacement_errors,
    displacements,
    to_picometres,
)
from shiftvae.analysis.dislocations import TABLE, Dislocation
from shiftvae.analysis.strain import StrainMaps
from shiftvae.errors import InputError, ReaderError
from shiftvae.pipeline.geometry import Geometry
from shiftvae.types import Encoding, Image, LatentMaps

ENCODING_KEYS = (
    "z_mean",
    "z_std",
    "shift_mean",
    "shift_std",
    "phase_mean",
    "phase_std",
    "orientation_mean",
    "orientation_std",
    "scale_mean",
    "scale_std",
    "class_probs",
    "values",
    "value_std",
)


def _axes(n: int, start: float, step: float, pixel_size: float | None):
    values = start + step * np.arange(n)
    return values * pixel_size if pixel_size else values


def _nxdata(
    entry: h5py.Group, name: str, signal: str, data: np.ndarray, y, x, unit: str, long_name: str
) -> None:
    g = entry.create_group(name)
    g.attrs.update(
        {"NX_class": "NXdata", "signal": signal, "axes": ["."] * (data.ndim - 2) + ["y", "x"]}
    )
    g.attrs["y_indices"] = data.ndim - 2
    g.attrs["x_indices"] = data.ndim - 1
    ds = g.create_dataset(signal, data=data)
    ds.attrs["long_name"] = long_name
    for axis, values in (("y", y), ("x", x)):
        a = g.create_dataset(axis, data=values)
        a.attrs["units"] = unit


def _nxdata_errors(entry: h5py.Group, name: str, signal: str, data, y, x, unit, what):
    """A float32 NXdata group (see :func:`_nxdata`), returned for its error dataset."""
    _nxdata(entry, name, signal, np.asarray(data, dtype=np.float32), y, x, unit, what)
    return entry[name]


def _errors(group: h5py.Group, name: str, errors, what: str) -> None:
    """The error bars of a group's signal, float32, with their long name."""
    group.create_dataset(name, data=np.asarray(errors, dtype=np.float32))
    group[name].attrs["long_name"] = what


def write_results_h5(path: str | Path, result: Any) -> Path:
    """Write a :class:`~shiftvae.pipeline.FitResult` as NeXus HDF5.

    The file is written beside ``path`` and renamed into place when complete, and its root
    attribute ``complete`` becomes True only after everything else is in it, so
    :func:`load_results` refuses a file whose writer stopped part way (a full disk, a kill).
    """
    return _write_entries(Path(path), [("entry", result)])


def write_series_h5(path: str | Path, named: list[tuple[str, Any]], model: str = "") -> Path:
    """One NeXus file for a series: an NXentry per image (named, e.g. ``01_scan``), each laid
    out as ``results.h5``'s ``/entry``, all encoded by the shared model (``model``, the path
    of its model.pt, stored as the root attribute ``model``).  Written like
    :func:`write_results_h5`: beside ``path``, renamed in, ``complete`` set last."""
    return _write_entries(Path(path), named, {"model": model})


def _write_entries(path: Path, named: list[tuple[str, Any]], attrs: dict | None = None) -> Path:
    part = path.with_name(path.name + ".part")
    try:
        with h5py.File(part, "w") as f:
            f.attrs.update(
                {
                    "default": named[0][0],
                    "creator": f"shiftvae {__version__}",
                    "NX_class": "NXroot",
                    "complete": False,  # set to True after everything else is written
                    **(attrs or {}),
                }
            )
            for name, result in named:
                _write_entry(f.create_group(name), result)
            f.attrs["complete"] = True
        part.replace(path)  # a reader never sees a file that is still being written
    finally:
        part.unlink(missing_ok=True)
    return path


def _write_entry(e: h5py.Group, result: Any) -> None:
    """One fit's NXentry: maps, image, encoding, history and the run's attributes."""
    maps, image, enc = result.maps, result.image, result.encoding
    px, unit = image.pixel_size, image.unit if image.pixel_size else "px"
    c = maps.centers
    rows, cols = maps.z.shape[1:]
    y = _axes(rows, c[0, 0, 0], c[1, 0, 0] - c[0, 0, 0] if rows > 1 else 1.0, px)
    x = _axes(cols, c[0, 0, 1], c[0, 1, 1] - c[0, 0, 1] if cols > 1 else 1.0, px)
    e.attrs.update({"NX_class": "NXentry", "default": "latent_maps"})
    _nxdata(
        e,
        "latent_maps",
        "z",
        maps.z.astype(np.float32),
        y,
        x,
        unit,
        "conventional latent means",
    )
    if maps.z_smooth is not None:
        what = "conventional latents averaged over neighbouring cells"
        g = _nxdata_errors(e, "smoothed_maps", "z", maps.z_smooth, y, x, unit, what)
        errors = "standard error of each smoothed value"
        _errors(g, "z_errors", maps.z_smooth_std, errors)
        g.attrs["smoothing_px"] = np.asarray(maps.smoothing_px, dtype=np.float64)
    _nxdata(
        e,
        "shift_maps",
        "shift",
        maps.shift.astype(np.float32),
        y,
        x,
        unit,
        "encoded shift (px), axes (row, col)",
    )
    if maps.phases is not None:
        _nxdata(e, "phase_map", "phases", maps.phases.astype(np.int16), y, x, unit, "phase label")
    if maps.lattice_phase is not None:
        _nxdata(
            e,
            "lattice_phase_maps",
            "phase",
            maps.lattice_phase.astype(np.float32),
            y,
            x,
            unit,
            "position in the unit cell, 2 pi (u, v) along a1, a2 (rad)",
        )
        e["lattice_phase_maps/phase"].attrs["units"] = "rad"
    if maps.orientation is not None:
        what = "orientation, counter-clockwise as displayed (deg)"
        _nxdata(e, "orientation_map", "orientation", maps.orientation, y, x, unit, what)
        e["orientation_map/orientation"].attrs["units"] = "deg"
    if maps.scale is not None:
        what = "relative lattice parameter (1: the motif's size), per motif axis"
        _nxdata(e, "scale_maps", "scale", maps.scale.astype(np.float32), y, x, unit, what)
        e["scale_maps/scale"].attrs["units"] = "relative lattice parameter"
    if maps.class_probs is not None:
        _class_map(e, maps, y, x, unit)
    if maps.values is not None:
        what = "predicted properties (P, rows, cols), in the units of the values given"
        g = _nxdata_errors(e, "property_maps", "values", maps.values, y, x, unit, what)
        _errors(g, "std", maps.value_std, "error bar (1 sigma) of each prediction")
        g.attrs["names"] = json.dumps(list(maps.value_names))
    if maps.registration is not None:
        what = "registered displacement (px), axes (row, col), mean removed"
        disp = maps.registration[:2].astype(np.float32)
        _nxdata(e, "registration_maps", "displacement", disp, y, x, unit, what)
        what = "registration branch: 1 beyond an antiphase boundary (moved by half a cell)"
        _nxdata(
            e,
            "registration_branch",
            "branch",
            maps.registration[2].astype(np.int8),
            y,
            x,
            unit,
            what,
        )
    h, w = image.data.shape
    iy, ix = _axes(h, 0, 1, px), _axes(w, 0, 1, px)
    _nxdata(e, "image", "data", image.data, iy, ix, unit, "image")
    strain = getattr(result, "strain", None)
    if strain is not None:
        tensor = np.stack([strain.exx, strain.eyy, strain.exy])
        tensor = np.where(strain.clear, tensor, np.nan).astype(np.float32)
        what = "strain exx, eyy, exy (%), x right, y down, against the median lattice (GPA)"
        if strain.grains is not None:
            what = what.replace("the median lattice", "each grain's common cell turned to it")
        _nxdata(e, "strain_maps", "strain", tensor, iy, ix, unit, what)
        e["strain_maps/strain"].attrs.update({"units": "%", "g": strain.g})
        e["strain_maps/strain"].attrs["resolution_px"] = strain.resolution
        if strain.errors is not None:
            spread = np.where(strain.clear, strain.errors, np.nan).astype(np.float32)
            ds = e["strain_maps"].create_dataset("strain_std", data=spread[:3])
            ds.attrs.update({"units": "%", "long_name": "standard error of exx, eyy, exy"})
        if strain.grains is not None:
            ds = e["strain_maps"].create_dataset("grains", data=strain.grains.astype(np.int16))
            ds.attrs["long_name"] = "grain of each pixel (-1: none), each against its own cell"
        table = np.array([d.as_row() for d in strain.dislocations]).reshape(-1, len(TABLE))
        ds = e["strain_maps"].create_dataset("dislocations", data=table)
        ds.attrs.update(
            {"columns": list(TABLE), "long_name": "dislocation cores and Burgers vectors (px)"}
        )
        turn = np.where(strain.clear, strain.rotation, np.nan).astype(np.float32)
        what = "lattice rotation, counter-clockwise as displayed (deg), GPA"
        _nxdata(e, "rotation_map", "rotation", turn, iy, ix, unit, what)
        e["rotation_map/rotation"].attrs["units"] = "deg"
        if strain.errors is not None:
            ds = e["rotation_map"].create_dataset("rotation_std", data=spread[3])
            ds.attrs.update({"units": "deg", "long_name": "standard error of the rotation"})
    columns = getattr(result, "columns", None)
    if columns is not None:
        _write_columns(e, columns, image)
    g = e.create_group("encoding")
    g.attrs["NX_class"] = "NXcollection"
    for key in ENCODING_KEYS:
        if getattr(enc, key) is not None:
            g.create_dataset(key, data=getattr(enc, key))
    g.create_dataset("centers", data=result.patches.centers)
    g = e.create_group("history")
    g.attrs["NX_class"] = "NXcollection"
    for key, values in result.model.history_.as_dict().items():
        g.create_dataset(key, data=np.asarray(values, dtype=np.float64))
    e.attrs.update(
        {
            "config": json.dumps(result.config.as_dict()),
            "geometry": json.dumps(result.geometry.as_dict()),
            "metrics": json.dumps(result.metrics),
            "grid_shape": list(maps.z.shape[1:]),
            "step": maps.step,
            "pixel_size": np.nan if px is None else px,
            "unit": unit,
            "source": image.source,
            "shiftvae_version": __version__,
        }
    )


def _write_columns(e: h5py.Group, columns: Columns, image: Image) -> None:
    """The columns of every sublattice, and each one's displacement from its cage."""
    g = e.create_group("columns")
    g.attrs["NX_class"] = "NXcollection"
    g.create_dataset("positions", data=columns.positions).attrs.update(
        {"units": "px", "long_name": "(row, col) of sublattice s in cell (i, j): (R, C, S, 2)"}
    )
    g.create_dataset("heights", data=columns.heights).attrs["long_name"] = "smoothed peak value"
    g.create_dataset("sites", data=columns.sites).attrs["long_name"] = (
        "sublattice sites in the cell, fractional along a1, a2, brightest first"
    )
    g.create_dataset("cells", data=columns.cells).attrs["long_name"] = "cell indices (i, j)"
    if columns.position_std is not None:
        g.create_dataset("position_std", data=columns.position_std).attrs.update(
            {"units": "px", "long_name": "standard error of each (row, col) in positions"}
        )
    errors = displacement_errors(columns, image)
    for site, (moved, unit) in displacements(columns, image).items():
        if site in errors:
            ds = g.create_dataset(f"displacement_site{site}_std", data=errors[site])
            ds.attrs.update(
                {"units": unit, "long_name": f"standard error of displacement_site{site}"}
            )
        ds = g.create_dataset(f"displacement_site{site}", data=moved.astype(np.float32))
        ds.attrs.update(
            {
                "units": unit,
                "long_name": f"sublattice {site} from the centre of its four sublattice-0 "
                "columns, less the median: (R, C, 2) along (row, col)",
            }
        )


@dataclass
class Results:
    """What ``shiftvae fit`` wrote, read back (see :func:`load_results`)."""

    encoding: Encoding
    maps: LatentMaps
    image: Image
    config: dict[str, Any]
    geometry: Geometry
    metrics: dict[str, Any]
    history: dict[str, np.ndarray]
    folder: Path = field(default_factory=Path)
    strain: StrainMaps | None = None
    columns: Columns | None = None

    def to_hyperspy(self, which: str = "z"):
        """Maps as a HyperSpy ``Signal2D`` with calibrated axes (one map per navigation
        index): ``which`` is "patches" (each cell's patch, the cell grid as navigation
        axes, for ``signal.plot(navigator=maps)``), "z" (the conventional maps), "shift"
        (px), "orientation"
        (degrees), "scale" (relative lattice parameter), or over the image's pixels
        "strain" (exx, eyy, exy in %), "rotation" (degrees) and "image" (the analysed
        image with every sublattice's columns as markers and each displacement from its
        cage as an arrow, drawn at 0.4 of a column spacing for its 95th percentile).  Needs
        HyperSpy (``pip install 'shiftvae[hyperspy]'``)."""
        from shiftvae.io.hyperspy import (
            image_maps_signal,
            image_signal,
            maps_signal,
            patches_signal,
        )

        if which == "image":
            if self.columns is None:
                return image_signal(self.image)
            cols = self.columns
            points = [cols.positions[:, :, s].reshape(-1, 2) for s in range(len(cols.sites))]
            arrows = []
            spacing = float(np.min(np.linalg.norm(cols.lattice.vectors, axis=1)))
            for site in range(1, len(cols.sites)):
                moved = cage_displacements(cols, site).reshape(-1, 2)
                size = np.linalg.norm(moved, axis=1)
                typical = float(np.nanpercentile(size, 95)) if np.isfinite(size).any() else 0.0
                gain = 0.4 * spacing / typical if typical > 0 else 1.0
                arrows.append((points[site], moved * gain))
            return image_signal(self.image, points, arrows)

        if which == "patches":
            return patches_signal(self.patches(), self.maps.step, self.image.source)
        if which in ("strain", "rotation"):
            if self.strain is None:
                raise InputError("these results have no strain maps (no lattice was found)")
            s, img = self.strain, self.image
            if which == "strain":
                stack = np.where(s.clear, np.stack([s.exx, s.eyy, s.exy]), np.nan)
                args = ("strain", "%", img.pixel_size, img.unit, ("exx", "eyy", "exy"))
            else:
                stack = np.where(s.clear, s.rotation, np.nan)
                args = ("lattice rotation, ccw", "deg", img.pixel_size, img.unit)
            return image_maps_signal(stack, img.source, *args)
        return maps_signal(self.maps, self.image.source, which)

    def patches(self):
        """The fit's patches (:class:`~shiftvae.types.Patches`), cut again from the image
        with the fit's geometry, as ``shiftvae fit`` cut them (an InputError where the
        stored geometry does not give the maps' cells again)."""
        from shiftvae.pipeline.fit import image_patches
        from shiftvae.pipeline.transfer import stored_config

        cut = image_patches(self.image, self.geometry, stored_config(self.config))
        cells = self.maps.centers.reshape(-1, 2)
        if cut.centers.shape != cells.shape or not np.allclose(cut.centers, cells, atol=1e-3):
            raise InputError(
                "the patches cut again from the image do not lie on the maps' cells: these "
                "results' geometry does not reproduce them"
            )
        return cut

    def explore(self, show: bool = True):
        """The linked, explorable view of these results (:mod:`shiftvae.explore`): maps side
        by side and over the image; a click on a cell shows its patch, reconstruction and
        residual; a slider per latent decodes along it.  In a notebook it is displayed
        (``show``); the Bokeh layout is returned either way (``bokeh.io.show`` or
        ``bokeh.io.save`` draw it elsewhere).  Without ``model.pt`` beside
        the results, or where the patches cannot be cut again, it shows what it can and
        says what is missing.  Needs Bokeh (installed with shiftvae)."""
        from shiftvae.explore import explorer_data, explorer_layout

        missing, patches, model = [], None, None
        try:
            patches = self.patches()
        except InputError as exc:
            missing.append(str(exc))
        if (self.folder / "model.pt").is_file():
            model = self.load_model()
        data = explorer_data(
            self.image, self.maps, patches, model, self.encoding, missing, self.columns
        )
        layout = explorer_layout(data)
        if show and _in_notebook():
            from bokeh.io import output_notebook
            from bokeh.io import show as show_layout

            output_notebook(hide_banner=True)
            show_layout(layout)
        return layout

    def load_model(self):
        """The trained model saved beside the results (``model.pt``)."""
        from shiftvae.model.vae import load_model

        return load_model(self.folder / "model.pt")


def _in_notebook() -> bool:
    """Whether this runs in an IPython kernel or shell (where a Bokeh layout can show)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def load_results(out_dir: str | Path) -> Results:
    """Read the folder written by ``shiftvae fit`` (or :func:`write_results_h5`).

    Examples
    --------
    >>> res = sv.load_results("run1")  # doctest: +SKIP
    >>> res.maps.z.shape  # (latent_dim, rows, cols)  # doctest: +SKIP
    """
    folder = Path(out_dir)
    path = folder / "results.h5" if folder.is_dir() else folder
    if not path.is_file():
        raise ReaderError(f"no results.h5 in {folder}: is it a folder written by shiftvae fit?")
    try:
        with h5py.File(path, "r") as f:
            if not bool(f.attrs.get("complete", True)):  # files before the flag: complete
                raise ReaderError(
                    f"{path} was not finished (its writer stopped before the end): fit again"
                )
            e = f["entry"]
            a = e.attrs
            px = float(a["pixel_size"])
            px = None if np.isnan(px) else px
            unit = str(a["unit"])
            g = e["encoding"]
            enc = Encoding(*(g[k][()] for k in ("z_mean", "z_std", "shift_mean", "shift_std")))
            for key in ENCODING_KEYS[4:]:
                if key in g:
                    setattr(enc, key, g[key][()])
            centers = g["centers"][()]
            rows, cols = (int(v) for v in a["grid_shape"])
            maps = LatentMaps(
                z=e["latent_maps/z"][()],
                shift=e["shift_maps/shift"][()],
                phases=e["phase_map/phases"][()].astype(int) if "phase_map" in e else None,
                centers=centers.reshape(rows, cols, 2),
                step=int(a["step"]),
                pixel_size=px,
                unit=unit,
                lattice_phase=(
                    e["lattice_phase_maps/phase"][()] if "lattice_phase_maps" in e else None
                ),
                orientation=(
                    e["orientation_map/orientation"][()] if "orientation_map" in e else None
                ),
                scale=e["scale_maps/scale"][()] if "scale_maps" in e else None,
                registration=_registration(e),
                class_probs=(e["class_map/probabilities"][()] if "class_map" in e else None),
                **_property_maps(e),
                **_smoothed_maps(e),
            )
            image = Image(e["image/data"][()], px, unit, str(a["source"]))
            history = {k: v[()] for k, v in e["history"].items()}
            config = json.loads(a["config"])
            geometry = Geometry.from_dict(json.loads(a["geometry"]))
            metrics = json.loads(a["metrics"])
            strain = _strain(e)
            columns = _columns(e, geometry, image)
    except ReaderError:
        raise
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise ReaderError(f"{path} is not a readable shiftvae results file ({exc})") from exc
    return Results(enc, maps, image, config, geometry, metrics, history, folder, strain, columns)


def _columns(e: h5py.Group, geometry: Geometry, image: Image) -> Columns | None:
    """The columns of every sublattice with their error bars, if the file has them."""
    if "columns" not in e or geometry.lattice is None:
        return None
    g = e["columns"]
    positions = g["positions"][()]
    position_std = g["position_std"][()] if "position_std" in g else None
    moved_std = None
    per_px = float(to_picometres(np.ones(1), image)[0][0])  # the unit of the stored values
    stored = [k for k in g if k.startswith("displacement_site") and k.endswith("_std")]
    if stored:
        moved_std = np.full(positions.shape, np.nan)
        for key in stored:
            site = int(key[len("displacement_site") : -len("_std")])
            moved_std[:, :, site] = g[key][()] / per_px
    return Columns(
        positions,
        g["heights"][()],
        g["sites"][()],
        g["cells"][()],
        geometry.lattice,
        position_std=position_std,
        displacement_std=moved_std,
    )


def _strain(e: h5py.Group) -> StrainMaps | None:
    """The GPA strain and rotation maps, if the file has them."""
    if "strain_maps" not in e:
        return None
    tensor = e["strain_maps/strain"]
    turn = e["rotation_map/rotation"][()]
    exx, eyy, exy = tensor[()]
    clear = np.isfinite(turn)
    errors = None
    if "strain_std" in e["strain_maps"]:
        errors = np.concatenate(
            [e["strain_maps/strain_std"][()], e["rotation_map/rotation_std"][()][None]]
        )
    cores = ()
    if "dislocations" in e["strain_maps"]:
        cores = tuple(Dislocation.from_row(r) for r in e["strain_maps/dislocations"][()])
    grains = e["strain_maps/grains"][()].astype(int) if "grains" in e["strain_maps"] else None
    return StrainMaps(
        exx,
        eyy,
        exy,
        turn,
        clear,
        tensor.attrs["g"],
        tensor.attrs["resolution_px"],
        errors,
        cores,
        grains,
    )


def _class_map(e: h5py.Group, maps: LatentMaps, y, x, unit: str) -> None:
    """The class map and its probabilities, uncertainty and boundaries (see the layout)."""
    classes = maps.classes.astype(np.int16)
    _nxdata(e, "class_map", "classes", classes, y, x, unit, "most probable class")
    g = e["class_map"]
    g.create_dataset("probabilities", data=maps.class_probs.astype(np.float32))
    g.create_dataset("uncertainty", data=class_uncertainty(maps.class_probs).astype(np.float32))
    g.create_dataset("boundaries", data=class_boundaries(classes).astype(np.int8))
    g["probabilities"].attrs["long_name"] = "probability of each class (K, rows, cols)"
    g["uncertainty"].attrs["long_name"] = "1 - the most probable class's probability"
    g["boundaries"].attrs["long_name"] = "1 where a neighbouring cell has another class"
    g.attrs["counts"] = json.dumps(class_summary(maps.class_probs)["counts"])


def _property_maps(e: h5py.Group) -> dict[str, Any]:
    """LatentMaps' values, value_std and value_names, if the file has property maps."""
    if "property_maps" not in e:
        return {}
    g = e["property_maps"]
    return {
        "values": g["values"][()].astype(np.float64),
        "value_std": g["std"][()].astype(np.float64),
        "value_names": tuple(json.loads(g.attrs["names"])),
    }


def _smoothed_maps(e: h5py.Group) -> dict[str, Any]:
    """The smoothed maps' fields of LatentMaps, if the file has them (files before: none)."""
    if "smoothed_maps" not in e:
        return {}
    g = e["smoothed_maps"]
    return {
        "z_smooth": g["z"][()],
        "z_smooth_std": g["z_errors"][()],
        "smoothing_px": tuple(float(v) for v in g.attrs["smoothing_px"]),
    }


def _registration(e: h5py.Group) -> np.ndarray | None:
    """(3, rows, cols) displacement and branch of the registration, if the file has them."""
    if "registration_maps" not in e:
        return None
    disp = e["registration_maps/displacement"][()].astype(np.float64)
    return np.concatenate([disp, e["registration_branch/branch"][()][None].astype(np.float64)])
