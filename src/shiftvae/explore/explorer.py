"""The explorable view of a fit: linked maps, each cell's patch, reconstruction and residual,
and the decoded motif along each latent, as one Bokeh layout with its callbacks in the page.

The same layout goes into ``report.html`` (standalone: BokehJS inline, no request to the
network, no server) and into a notebook (:meth:`shiftvae.results.Results.explore`).

What the page holds, and how it stays small (about 20 MB at most for a 4096 px image):

- the image as one PNG, reduced to at most ``IMAGE_SIDE`` px a side;
- one row per cell with its centre and every map's value (float32), drawn as squares at the
  cells' true centres, so a lattice-shaped grid lies where it is; above ``MAX_CELLS``
  cells, every k-th row and column of the grid is drawn (the page says so);
- the patches and their reconstructions of at most ``PATCH_BYTES`` bytes in all (uint8,
  base64), on a regular sub-grid of the cells; a cell without its own stored patch shows
  the nearest stored one and says which;
- ``FRAMES`` decoded motifs along each latent, from its 1st to its 99th percentile, the
  others at their median: the slider picks a frame, no model is needed in the page.

A cell is shown when the pointer is over it on any map, when it is clicked (the tap tool),
or when its number is typed in the box above the patches.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "ExplorerData",
    "explorer_data",
    "explorer_html",
    "explorer_layout",
]

IMAGE_SIDE = 1024  # px: the image is reduced to this side at most
MAX_CELLS = 60_000  # cells drawn at most (every k-th row and column beyond)
PATCH_BYTES = 6_000_000  # bytes of stored patches and reconstructions at most
FRAMES = 11  # decoded motifs per latent slider


@dataclass
class ExplorerData:
    """What the explorer draws, in the page's units (see the module's text)."""

    image_png: str  # base64 PNG of the (reduced) image
    image_shape: tuple[int, int]  # of the full image, px
    unit: str  # of the axes: calibrated unit or px
    scale: float  # axis units per image px
    cells: dict[str, np.ndarray]  # x, y, row, col, stored, and one column per map
    maps: list[tuple[str, str]]  # (column, title) of each map drawn
    cell_size: float  # side of a drawn cell, axis units
    stride: int  # every stride-th row and column of the grid is drawn
    grid_shape: tuple[int, int]
    patch_shape: tuple[int, int] = (0, 0)
    # the stored patches: cell (index of each), patch and recon (base64 uint8 (h, w) each)
    store: dict[str, list] = field(default_factory=lambda: {"cell": [], "patch": [], "recon": []})
    # the decoded motifs: latent, frame, value and image (base64 uint8 (h, w)) of each
    frames: dict[str, list] = field(
        default_factory=lambda: {"latent": [], "frame": [], "value": [], "image": []}
    )
    missing: list[str] = field(default_factory=list)  # what this page cannot show, and why
    scale_patches: tuple[float, float] = (0.0, 1.0)  # the patches' values at 0 and 255
    # per sublattice s >= 1: x, y, dx, dy (its displacement from its cage) and size, in the
    # axes' unit, at each of its columns
    displacements: list[dict[str, np.ndarray]] = field(default_factory=list)


def _png(image: np.ndarray) -> str:
    from PIL import Image as PILImage

    finite = np.isfinite(image)
    lo, hi = np.percentile(image[finite], [0.5, 99.5]) if finite.any() else (0.0, 1.0)
    scaled = np.clip((np.nan_to_num(image, nan=lo) - lo) / max(hi - lo, 1e-12), 0, 1)
    buf = io.BytesIO()
    PILImage.fromarray((scaled * 255).astype(np.uint8)).save(buf, format="PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _reduce(image: np.ndarray) -> np.ndarray:
    """The image binned so that its longer side is at most IMAGE_SIDE px."""
    k = int(np.ceil(max(image.shape) / IMAGE_SIDE))
    if k <= 1:
        return image
    h, w = (image.shape[0] // k) * k, (image.shape[1] // k) * k
    return image[:h, :w].reshape(h // k, k, w // k, k).mean(axis=(1, 3))


def _map_columns(maps, keep: np.ndarray) -> tuple[dict[str, np.ndarray], list[tuple[str, str]]]:
    """One float32 column per map (cells in ``keep``) and its (column, title)."""
    cols: dict[str, np.ndarray] = {}
    names: list[tuple[str, str]] = []

    def add(key: str, title: str, values: np.ndarray) -> None:
        cols[key] = np.asarray(values, dtype=np.float32).ravel()[keep]
        names.append((key, title))

    for i, m in enumerate(maps.z):
        add(f"z{i + 1}", f"z{i + 1}", m)
    if maps.z_smooth is not None:  # averaged over neighbouring cells, with error bars
        for i, (m, e) in enumerate(zip(maps.z_smooth, maps.z_smooth_std)):
            add(f"z{i + 1}_smoothed", f"z{i + 1} smoothed", m)
            cols[f"z{i + 1}_smoothed_std"] = np.asarray(e, dtype=np.float32).ravel()[keep]
    for i, m in enumerate(maps.shift):
        add(
            f"shift_{'rc'[i] if len(maps.shift) == 2 else i}",
            f"shift {'row col'.split()[i]} (px)",
            m,
        )
    if maps.orientation is not None:
        add("orientation", "orientation (deg)", maps.orientation)
    if maps.scale is not None:
        for i, m in enumerate(maps.scale):
            add(f"scale{i + 1}", f"relative lattice parameter {i + 1}", m)
    if maps.registration is not None:
        add("registered_row", "registered displacement, row (px)", maps.registration[0])
        add("registered_col", "registered displacement, col (px)", maps.registration[1])
    if maps.class_probs is not None:
        add("class", "class", maps.classes)
        add("class_probability", "class probability", maps.class_probs.max(0))
    if maps.values is not None:
        for name, v, e in zip(maps.value_names, maps.values, maps.value_std):
            add(f"value_{name}", name, v)
            cols[f"value_{name}_std"] = np.asarray(e, dtype=np.float32).ravel()[keep]
    return cols, names


def quantise(stack: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``stack`` scaled from [lo, hi] to uint8 0 to 255, as the page stores its images."""
    scaled = np.clip((np.asarray(stack, dtype=np.float64) - lo) / max(hi - lo, 1e-12), 0, 1)
    return (scaled * 255).round().astype(np.uint8)


def _b64(stack: np.ndarray, lo: float, hi: float) -> list[str]:
    """Each image of ``stack`` (S, h, w), quantised, as a base64 string."""
    return [base64.b64encode(q.tobytes()).decode("ascii") for q in quantise(stack, lo, hi)]


def explorer_data(
    image,
    maps,
    patches=None,
    model=None,
    encoding=None,
    missing: list[str] | None = None,
    columns=None,
) -> ExplorerData:
    """Gather what the explorer draws from a fit's image (an :class:`~shiftvae.types.Image`)
    and maps, its :class:`~shiftvae.types.Patches`, the trained ``model`` and the patches'
    ``encoding`` (shifts in image px, as a fit gives them), and its ``columns`` (every
    sublattice's columns, :class:`~shiftvae.analysis.columns.Columns`): each sublattice's
    displacement from its cage is drawn at its columns.

    Without patches or without a model the page still opens, and says what it lacks."""
    missing = list(missing or [])
    rows, cols = maps.z.shape[1:]
    stride = max(1, int(np.ceil(np.sqrt(rows * cols / MAX_CELLS))))
    grid_r, grid_c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    keep_grid = (grid_r % stride == 0) & (grid_c % stride == 0)
    keep = np.flatnonzero(keep_grid.ravel())
    scale = float(image.pixel_size or 1.0)
    unit = image.unit if image.pixel_size else "px"
    centers = maps.centers.reshape(-1, 2)[keep]
    cells = {
        "x": (centers[:, 1] * scale).astype(np.float32),
        "y": (centers[:, 0] * scale).astype(np.float32),
        "row": grid_r.ravel()[keep].astype(np.int32),
        "col": grid_c.ravel()[keep].astype(np.int32),
        "cell": keep.astype(np.int32),
    }
    values, names = _map_columns(maps, keep)
    cells.update(values)
    if stride > 1:
        missing.append(
            f"one row and column in {stride} of the {rows} x {cols} cells is drawn, to keep "
            "the page small"
        )
    data = ExplorerData(
        image_png=_png(_reduce(np.asarray(image.data, dtype=np.float64))),
        image_shape=tuple(image.data.shape[:2]),
        unit=unit,
        scale=scale,
        cells=cells,
        maps=names,
        cell_size=float(maps.step * stride * scale),
        stride=stride,
        grid_shape=(rows, cols),
        missing=missing,
    )
    cells["stored"] = np.full(len(keep), -1, dtype=np.int32)
    if columns is not None:
        data.displacements = _displacements(columns, scale)
    pixels = None if patches is None else np.asarray(patches.data)
    if pixels is None or len(pixels) != rows * cols or pixels.ndim != 3:
        if pixels is None:
            missing.append("no patches: this result holds the maps only")
        else:
            missing.append("the patches do not match the cells: they are not shown")
        return data
    h, w = pixels.shape[1:]
    per = 2 * h * w if model is not None else h * w
    sub = max(1, int(np.ceil(np.sqrt(len(keep) * per / PATCH_BYTES))))
    stored_grid = keep_grid & (grid_r % (stride * sub) == 0) & (grid_c % (stride * sub) == 0)
    stored = np.flatnonzero(stored_grid.ravel())
    if sub > 1:
        missing.append(
            f"the patches of one drawn row and column in {sub} are stored; a click elsewhere "
            "shows the nearest stored one"
        )
    from scipy.spatial import cKDTree

    near = cKDTree(maps.centers.reshape(-1, 2)[stored]).query(centers)[1]
    cells["stored"] = near.astype(np.int32)
    chosen = np.asarray(pixels[stored], dtype=np.float64)
    lo, hi = float(chosen.min()), float(chosen.max())
    data.patch_shape = (h, w)
    data.store = {"cell": stored.tolist(), "patch": _b64(chosen, lo, hi), "recon": []}
    data.store["recon"] = [""] * len(stored)  # filled with a model
    data.scale_patches = (lo, hi)
    if model is None or encoding is None:
        missing.append("no model: reconstructions, residuals and decoded motifs are not shown")
        return data
    recon = np.asarray(model.decode(_subset(encoding, stored, patches.binning)), np.float64)
    data.store["recon"] = _b64(recon.reshape(chosen.shape), lo, hi)
    data.frames = _latent_frames(model, maps, lo, hi)
    return data


def _displacements(columns, scale: float) -> list[dict[str, np.ndarray]]:
    """Per sublattice s >= 1: its columns' x, y, displacement dx, dy from the cage and its
    size, in the axes' unit (NaN columns left out)."""
    from shiftvae.analysis.columns import cage_displacements

    out = []
    for site in range(1, len(columns.sites)):
        moved = cage_displacements(columns, site).reshape(-1, 2) * scale
        where = columns.positions[:, :, site].reshape(-1, 2) * scale
        ok = np.isfinite(moved).all(1) & np.isfinite(where).all(1)
        out.append(
            {
                "x": where[ok, 1].astype(np.float32),
                "y": where[ok, 0].astype(np.float32),
                "dx": moved[ok, 1].astype(np.float32),
                "dy": moved[ok, 0].astype(np.float32),
                "size": np.hypot(moved[ok, 0], moved[ok, 1]).astype(np.float32),
            }
        )
    return out


def _subset(encoding, index: np.ndarray, binning: int):
    """The encoding of the inputs ``index``, shifts back in pixels of the patches."""
    from dataclasses import fields, replace

    parts = {}
    for f in fields(encoding):
        value = getattr(encoding, f.name)
        if isinstance(value, np.ndarray) and len(value) == len(encoding):
            parts[f.name] = value[index]
    out = replace(encoding, **parts)
    out.shift_mean = out.shift_mean / binning
    out.shift_std = out.shift_std / binning
    return out


def _latent_frames(model, maps, lo: float, hi: float) -> dict[str, list]:
    """Per latent: FRAMES values from its 1st to 99th percentile and the decoded motifs there
    (the other latents at their median), quantised as the patches are."""
    z = maps.z.reshape(len(maps.z), -1).T.astype(np.float64)
    median = np.median(z, axis=0)
    out: dict[str, list] = {"latent": [], "frame": [], "value": [], "image": []}
    for j in range(z.shape[1]):
        low, high = np.percentile(z[:, j], [1, 99])
        values = np.linspace(low, high, FRAMES)
        grid = np.repeat(median[None], FRAMES, axis=0)
        grid[:, j] = values
        frames = np.asarray(model.decode(grid.astype(np.float32)), dtype=np.float64)
        out["latent"] += [j] * FRAMES
        out["frame"] += list(range(FRAMES))
        out["value"] += [float(v) for v in values]
        out["image"] += _b64(frames, lo, hi)
    return out


_SHOW_CELL = """
const v = Math.round(input.value ?? -1);
const d = cells.data;
const rowIndex = d.cell.indexOf(v);
function bytes(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
function image(flat) {  // an (h, w) ndarray: the image glyph redraws only for these
  const ndarray = Bokeh.require("core/util/ndarray").ndarray;
  return ndarray(Float64Array.from(flat), {shape: [h, w], dtype: "float64"});
}
if (rowIndex < 0) {
  info.text = "<b>no drawn cell " + v + "</b> (cells 0 to " + (nrows * ncols - 1) +
    (stride > 1 ? ", every " + stride + " rows and columns drawn" : "") + ")";
  return;
}
if (cells.selected.indices.length !== 1 || cells.selected.indices[0] !== rowIndex) {
  cells.selected.indices = [rowIndex];
}
const lines = ["<b>cell " + v + "</b>: row " + d.row[rowIndex] + ", col " + d.col[rowIndex] +
  "; centre (" + d.y[rowIndex].toFixed(2) + ", " + d.x[rowIndex].toFixed(2) + ") " + unit];
for (const [key, title] of maps) {
  let text = title + ": " + Number(d[key][rowIndex]).toPrecision(4);
  const err = d[key + "_std"];
  if (err !== undefined) text += " &plusmn; " + Number(err[rowIndex]).toPrecision(3);
  lines.push(text);
}
const k = d.stored[rowIndex];
if (k >= 0) {
  const shown = store.data.cell[k];
  const patch = bytes(store.data.patch[k]);
  patch_source.data = {image: [image(patch)], cell: [shown]};
  if (store.data.recon[k]) {
    const recon = bytes(store.data.recon[k]);
    const res = new Int16Array(patch.length);
    for (let i = 0; i < patch.length; i++) res[i] = patch[i] - recon[i];
    recon_source.data = {image: [image(recon)], cell: [shown]};
    residual_source.data = {image: [image(res)], cell: [shown]};
  }
  if (shown !== v) lines.push("<i>patch shown: the nearest stored cell, " + shown + "</i>");
}
info.text = lines.join("<br>");
"""

_PICK_CELL = """
const sel = cells.selected.indices;
if (sel.length) {
  const v = cells.data.cell[sel[0]];
  if (input.value !== v) input.value = v;
}
"""

_HOVER_CELL = """
const hit = cb_data.index.indices;
if (hit.length) {  // only the panels that draw the cells have this callback
  const v = cells.data.cell[hit[0]];
  if (input.value !== v) input.value = v;
}
"""

_SLIDE = """
const f = frames.data;
let best = -1;
for (let i = 0; i < f.latent.length; i++) {
  if (f.latent[i] !== j) continue;
  if (best < 0 || Math.abs(f.value[i] - slider.value) < Math.abs(f.value[best] - slider.value)) {
    best = i;
  }
}
const bin = atob(f.image[best]);
const flat = new Uint8Array(bin.length);
for (let i = 0; i < bin.length; i++) flat[i] = bin.charCodeAt(i);
const ndarray = Bokeh.require("core/util/ndarray").ndarray;
const img = ndarray(Float64Array.from(flat), {shape: [h, w], dtype: "float64"});
motif_source.data = {image: [img], frame: [f.frame[best]], latent: [j]};
title.text = "decoded motif: z" + (j + 1) + " = " + f.value[best].toPrecision(3) +
  " (others at their median)";
"""

_OVERLAY = """
const key = select.value;
const entry = ranges[key];
glyph.fill_color = {field: key, transform: mapper};
mapper.low = entry[0];
mapper.high = entry[1];
glyph.fill_alpha = alpha.value;
"""


def _range(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return 0.0, 1.0
    lo, hi = np.percentile(finite, [1, 99])
    return (float(lo), float(hi)) if hi > lo else (float(lo) - 0.5, float(hi) + 0.5)


def explorer_layout(data: ExplorerData, width: int = 235):
    """The Bokeh layout of :class:`ExplorerData` (see the module's text)."""
    from bokeh.document import Document
    from bokeh.events import DocumentReady
    from bokeh.layouts import column, gridplot, row
    from bokeh.models import (
        ColorBar,
        ColumnDataSource,
        CustomJS,
        Div,
        HoverTool,
        LinearColorMapper,
        NumericInput,
        Range1d,
        Select,
        Slider,
    )
    from bokeh.palettes import Greys256, RdBu11, Viridis256
    from bokeh.plotting import figure

    rows, cols = data.image_shape
    xr = Range1d(0, cols * data.scale, bounds="auto")
    yr = Range1d(rows * data.scale, 0, bounds="auto")  # rows run down, as the image
    cells = ColumnDataSource({k: v for k, v in data.cells.items()}, name="cells")
    size = data.cell_size
    aspect = rows / cols
    tips = [("cell", "@cell"), ("row, col", "@row, @col")]
    tips += [(title, f"@{{{key}}}{{0.000}}") for key, title in data.maps]
    tools = "pan,wheel_zoom,box_zoom,reset,tap"

    hovers = []  # each panel's hover tool: hovering a cell shows it, as a click does

    def panel(title: str):
        p = figure(
            title=title,
            x_range=xr,
            y_range=yr,
            width=width,
            height=int(width * aspect) + 30,
            tools=tools,
            match_aspect=True,
            x_axis_label=data.unit,
        )
        hovers.append(HoverTool(tooltips=tips))
        p.add_tools(hovers[-1])
        p.grid.visible = False
        return p

    ranges = {key: _range(data.cells[key]) for key, _ in data.maps}
    first = data.maps[0][0]
    over = panel("image, with a map laid over it")
    url = f"data:image/png;base64,{data.image_png}"
    over.image_url(url=[url], x=0, y=0, w=cols * data.scale, h=rows * data.scale, anchor="top_left")
    mapper = LinearColorMapper(Viridis256, low=ranges[first][0], high=ranges[first][1])
    glyph = over.rect(
        "x",
        "y",
        size,
        size,
        source=cells,
        line_color=None,
        fill_alpha=0.0,
        fill_color={"field": first, "transform": mapper},
        name="overlay",
    ).glyph
    select = Select(title="map over the image", value=first, options=[k for k, _ in data.maps])
    alpha = Slider(title="opacity of the map", start=0, end=1, step=0.05, value=0.0)
    overlay = CustomJS(
        args=dict(select=select, alpha=alpha, glyph=glyph, mapper=mapper, ranges=ranges),
        code=_OVERLAY,
    )
    select.js_on_change("value", overlay)
    alpha.js_on_change("value", overlay)

    panels = [over]
    for key, title in data.maps:
        p = panel(title)
        palette = RdBu11 if key.startswith(("shift", "registered")) else Viridis256
        m = LinearColorMapper(palette, low=ranges[key][0], high=ranges[key][1])
        p.rect(
            "x",
            "y",
            size,
            size,
            source=cells,
            line_color=None,
            fill_color={"field": key, "transform": m},
        )
        p.add_layout(ColorBar(color_mapper=m, width=8), "right")
        panels.append(p)

    for site, moved in enumerate(data.displacements, start=1):
        if not len(moved["x"]):
            continue
        p = panel(f"sublattice {site}: displacement from its cage ({data.unit})")
        high = _range(moved["size"])[1]
        m = LinearColorMapper(Viridis256, low=0.0, high=high)
        source = ColumnDataSource(moved, name=f"displacement_{site}")
        p.scatter(
            "x",
            "y",
            source=source,
            size=5,
            line_color=None,
            fill_color={"field": "size", "transform": m},
        )
        p.add_layout(ColorBar(color_mapper=m, width=8), "right")
        p.hover.tooltips = [("dx, dy", "@dx{0.00}, @dy{0.00}"), ("size", "@size{0.00}")]
        hovers.pop()  # its points are columns, not cells
        panels.append(p)

    h, w = data.patch_shape or (1, 1)
    blank = {"image": [np.zeros((h, w))], "cell": [-1]}
    small = 150

    def tile(title: str, name: str, palette, low: float, high: float, start=None, side=small):
        """A (side x side) image of one patch, drawn from a source named ``name``."""
        src = ColumnDataSource(dict(start or blank), name=name)
        f = figure(
            title=title,
            width=side,
            height=side + 25,
            tools="",
            x_range=(0, w),
            y_range=(h, 0),
            toolbar_location=None,
        )
        f.axis.visible = False
        f.grid.visible = False
        f.image(
            "image",
            x=0,
            y=0,
            dw=w,
            dh=h,
            source=src,
            color_mapper=LinearColorMapper(palette, low=low, high=high),
        )
        return f, src

    patch_fig, patch_source = tile("patch", "patch_source", Greys256, 0, 255)
    recon_fig, recon_source = tile("reconstruction", "recon_source", Greys256, 0, 255)
    resid_fig, residual_source = tile("residual", "residual_source", RdBu11[::-1], -96, 96)
    info = Div(text="click a cell on any map", width=2 * small, name="cell_info")
    count = data.grid_shape[0] * data.grid_shape[1]
    cell_input = NumericInput(
        title="cell", value=None, low=0, high=count - 1, mode="int", name="cell_input", width=120
    )
    show = CustomJS(
        args=dict(
            input=cell_input,
            cells=cells,
            info=info,
            patch_source=patch_source,
            recon_source=recon_source,
            residual_source=residual_source,
            store=ColumnDataSource(data.store, name="patch_store"),
            h=h,
            w=w,
            maps=[list(m) for m in data.maps],
            unit=data.unit,
            nrows=data.grid_shape[0],
            ncols=data.grid_shape[1],
            stride=data.stride,
        ),
        code=_SHOW_CELL,
    )
    cell_input.js_on_change("value", show)
    cells.selected.js_on_change(
        "indices", CustomJS(args=dict(cells=cells, input=cell_input), code=_PICK_CELL)
    )
    hover = CustomJS(args=dict(cells=cells, input=cell_input), code=_HOVER_CELL)
    for tool in hovers:
        tool.callback = hover

    side = [cell_input, row(patch_fig, recon_fig, resid_fig), info]
    if data.frames["image"]:
        middle = FRAMES // 2  # z1 at its median: the frame each slider starts at
        first = np.frombuffer(base64.b64decode(data.frames["image"][middle]), np.uint8)
        start_motif = {"image": [first.reshape(h, w)], "frame": [middle], "latent": [0]}
        motif, motif_source = tile(
            "decoded motif: move a slider", "motif_source", Greys256, 0, 255, start_motif, 2 * small
        )
        frames = ColumnDataSource(data.frames, name="motif_store")
        for j in sorted(set(data.frames["latent"])):
            values = [v for v, n in zip(data.frames["value"], data.frames["latent"]) if n == j]
            slider = Slider(
                title=f"z{j + 1}",
                start=values[0],
                end=values[-1],
                value=values[len(values) // 2],
                step=(values[-1] - values[0]) / (len(values) - 1) or 1e-6,
                name=f"latent_slider_{j}",
                width=2 * small,
            )
            args = dict(slider=slider, frames=frames, j=j, h=h, w=w)
            args.update(motif_source=motif_source, title=motif.title)
            slider.js_on_change("value", CustomJS(args=args, code=_SLIDE))
            side.append(slider)
        side.append(motif)
    if data.missing:
        side.append(
            Div(
                text="<br>".join(f"<i>{m}</i>" for m in data.missing),
                width=2 * small,
                name="explorer_missing",
            )
        )
    grid = gridplot(panels, ncols=3, toolbar_location="right", merge_tools=True)
    grid.toolbar.logo = None  # a link out of an offline page
    layout = row(column(select, alpha, grid), column(*side))
    # once the page is ready: show the drawn cell nearest the middle that has its own patch
    start = _start_cell(data)
    doc = Document()
    doc.add_root(layout)
    doc.js_on_event(
        DocumentReady,
        CustomJS(args=dict(input=cell_input, start=start), code="input.value = start;"),
    )
    return layout


def _start_cell(data: ExplorerData) -> int:
    """The drawn cell nearest the grid's middle with its own stored patch (-1: none)."""
    own = set(data.store["cell"])
    cells = data.cells["cell"]
    middle = np.array(data.grid_shape) / 2
    order = np.argsort(np.hypot(data.cells["row"] - middle[0], data.cells["col"] - middle[1]))
    mine = [int(cells[i]) for i in order if int(cells[i]) in own]
    return mine[0] if mine else (int(cells[order[0]]) if len(order) else -1)


def explorer_html(data: ExplorerData) -> tuple[str, str]:
    """(head, body) HTML of the explorer for a standalone page: BokehJS inline in the head
    (no request to the network), the layout's script and element in the body."""
    from bokeh.embed import components
    from bokeh.resources import Resources

    script, div = components(explorer_layout(data))
    # the plots and widgets only: no WebGL, tables or MathJax (2.3 of the 3.9 MB)
    inline = Resources(mode="inline", components=["bokeh", "bokeh-widgets"])
    return inline.render(), div + script
