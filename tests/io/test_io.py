"""Image readers: every format on small files written here, the real images, every error."""

from __future__ import annotations

import sys

import h5py
import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage

import shiftvae as sv
from conftest import shared_file
from shiftvae.errors import InputError, MissingExtraError, ReaderError
from shiftvae.io.readers import SUPPORTED_SUFFIXES, read_image
from shiftvae.io.validate import check_image, fill_nan


@pytest.fixture
def img(rng):
    """A 24 x 32 uint16 image with a clear pattern."""
    return (rng.random((24, 32)) * 60000).astype(np.uint16)


def check(image, shape, pixel_size=None, unit="px"):
    assert image.data.shape == shape and image.data.dtype == np.float32
    assert image.data.flags.c_contiguous
    if pixel_size is None:
        assert image.pixel_size is None and image.unit == "px"
    else:
        assert image.pixel_size == pytest.approx(pixel_size, rel=1e-5) and image.unit == unit


# --- TIFF -----------------------------------------------------------------------------------


def test_tif_without_calibration(tmp_path, img):
    tifffile.imwrite(tmp_path / "a.tif", img)
    image = read_image(tmp_path / "a.tif")
    check(image, (24, 32))
    assert np.array_equal(image.data, img) and image.source == str(tmp_path / "a.tif")


@pytest.mark.parametrize(("unit", "factor"), [("nm", 1.0), ("micron", 1e3), ("\\u00C5", 0.1)])
def test_tif_imagej_calibration_in_nm(tmp_path, img, unit, factor):
    path = tmp_path / "ij.TIF"  # the suffix is case-insensitive
    tifffile.imwrite(path, img, imagej=True, resolution=(20.0, 20.0), metadata={"unit": unit})
    image = read_image(path)
    check(image, (24, 32), 0.05 * factor, "nm")
    assert image.metadata["calibration"] == "ImageJ"


def test_tif_ome_calibration(tmp_path, img):
    path = tmp_path / "a.ome.tif"
    meta = {"axes": "YX", "PhysicalSizeX": 0.25, "PhysicalSizeXUnit": "nm"}
    tifffile.imwrite(path, img, ome=True, metadata={**meta, "PhysicalSizeY": 0.25})
    check(read_image(path), (24, 32), 0.25, "nm")


def test_tif_stack_needs_index(tmp_path, rng):
    stack = rng.random((3, 20, 16)).astype(np.float32)
    tifffile.imwrite(tmp_path / "s.tif", stack, photometric="minisblack")
    with pytest.raises(ReaderError, match=r"s\.tif is a stack of 3 images.*index="):
        read_image(tmp_path / "s.tif")
    assert np.array_equal(read_image(tmp_path / "s.tif", index=2).data, stack[2])
    with pytest.raises(ReaderError, match="index 3 is out of range"):
        read_image(tmp_path / "s.tif", index=3)


@pytest.mark.parametrize("planarconfig", ["contig", "separate"])
def test_rgb_tif_is_refused_unless_a_channel_is_picked(tmp_path, rng, planarconfig):
    rgb = (rng.random((20, 16, 3)) * 255).astype(np.uint8)
    stored = rgb if planarconfig == "contig" else np.moveaxis(rgb, -1, 0)
    tifffile.imwrite(tmp_path / "c.tif", stored, photometric="rgb", planarconfig=planarconfig)
    with pytest.raises(ReaderError, match=r"RGB colour image \(3 channels\).*index="):
        read_image(tmp_path / "c.tif")
    assert np.array_equal(read_image(tmp_path / "c.tif", index=1).data, rgb[..., 1])


# --- PNG, JPEG, BMP -------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".png", ".bmp"])
def test_grey_png_and_bmp(tmp_path, img, suffix):
    grey = (img >> 8).astype(np.uint8)
    PILImage.fromarray(grey).save(tmp_path / f"g{suffix}")
    image = read_image(tmp_path / f"g{suffix}")
    check(image, (24, 32))
    assert np.array_equal(image.data, grey)


def test_16_bit_png_keeps_its_range(tmp_path, img):
    PILImage.fromarray(img).save(tmp_path / "g16.png")
    assert np.array_equal(read_image(tmp_path / "g16.png").data, img)


def test_colour_png_is_converted_by_luminance(tmp_path, rng):
    rgb = (rng.random((20, 16, 3)) * 255).astype(np.uint8)
    PILImage.fromarray(rgb).save(tmp_path / "c.png")
    image = read_image(tmp_path / "c.png")
    expected = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    assert np.allclose(image.data, expected, atol=1e-3)
    assert "luminance" in image.metadata["colour"]


def test_grey_stored_as_rgb_is_kept_exactly(tmp_path, img):
    grey = (img >> 8).astype(np.uint8)
    PILImage.fromarray(np.stack([grey] * 3, axis=-1)).save(tmp_path / "g.png")
    image = read_image(tmp_path / "g.png")
    assert np.array_equal(image.data, grey) and image.metadata["colour"] == "grey stored as RGB"


def test_jpeg(tmp_path, img):
    PILImage.fromarray((img >> 8).astype(np.uint8)).save(tmp_path / "g.jpeg", quality=95)
    check(read_image(tmp_path / "g.jpeg"), (24, 32))


# --- NumPy ----------------------------------------------------------------------------------


def test_npy_becomes_float32_c_contiguous(tmp_path, rng):
    data = np.asfortranarray(rng.random((24, 32)))
    np.save(tmp_path / "a.npy", data)
    image = read_image(tmp_path / "a.npy")
    check(image, (24, 32))
    assert np.allclose(image.data, data) and image.metadata["format"] == "NumPy"


def test_npy_with_python_objects_is_refused(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(ReaderError, match=r"cannot read .*o\.npy") as exc:
        read_image(tmp_path / "o.npy")
    assert exc.value.__cause__ is not None


def test_leading_axes_of_length_one_are_dropped(tmp_path, rng):
    np.save(tmp_path / "a.npy", rng.random((1, 24, 32)))
    check(read_image(tmp_path / "a.npy"), (24, 32))


# --- HDF5 -----------------------------------------------------------------------------------


def write_hyperspy(path, data, scale, units):
    with h5py.File(path, "w") as f:
        f.attrs.update({"file_format": "HyperSpy", "file_format_version": "3.1"})
        exp = f.create_group("Experiments/HAADF")
        exp.create_dataset("data", data=data)
        for k, size in enumerate(data.shape):
            attrs = {"scale": scale, "size": size, "offset": 0.0}
            exp.create_group(f"axis-{k}").attrs.update(attrs | ({"units": units} if units else {}))


@pytest.mark.parametrize(
    ("units", "expected"), [("nm", 0.02), ("Å", 0.002), ("µm", 20.0), (None, 0.02)]
)
def test_hyperspy_layout_with_axis_calibration(tmp_path, img, units, expected):
    write_hyperspy(tmp_path / "a.hspy", img, 0.02, units)
    image = read_image(tmp_path / "a.hspy")
    check(image, (24, 32), expected, "nm")
    assert image.metadata["dataset"] == "/Experiments/HAADF/data"
    assert ("unit_assumed" in image.metadata) == (units is None)


def test_h5_with_two_images_lists_them_and_index_picks_each(tmp_path, rng):
    a, b = rng.random((24, 32)), rng.random((16, 16))
    with h5py.File(tmp_path / "two.h5", "w") as f:
        f["scan/haadf"] = a
        f["scan/bf"] = b
        f["scan/line"] = np.arange(10.0)  # 1D: not listed
    path = tmp_path / "two.h5"
    with pytest.raises(ReaderError, match=r"holds 2 images \(/scan/bf 16x16, /scan/haadf 24x32\)"):
        read_image(path)
    assert np.allclose(read_image(path, index=0).data, b)
    assert np.allclose(read_image(path, index=1).data, a)
    assert np.allclose(read_image(path, index="/scan/haadf").data, a)
    assert np.allclose(read_image(path, index="bf").data, b)
    with pytest.raises(ReaderError, match="no image named 'adf'"):
        read_image(path, index="adf")


def test_h5_single_stack_index_picks_a_slice(tmp_path, rng):
    stack = rng.random((4, 16, 16))
    with h5py.File(tmp_path / "s.h5", "w") as f:
        f["stack"] = stack
    with pytest.raises(ReaderError, match="is a stack of 4 images of 16 x 16 px"):
        read_image(tmp_path / "s.h5")
    assert np.allclose(read_image(tmp_path / "s.h5", index=3).data, stack[3])


def test_nexus_default_nxdata_with_calibrated_axes(tmp_path, img, rng):
    with h5py.File(tmp_path / "a.nxs", "w") as f:
        f.attrs["default"] = "entry"
        entry = f.create_group("entry")
        entry.attrs.update({"NX_class": "NXentry", "default": "image"})
        other = entry.create_group("noise")
        other.attrs.update({"NX_class": "NXdata", "signal": "data"})
        other["data"] = rng.random((8, 8))
        g = entry.create_group("image")
        g.attrs.update({"NX_class": "NXdata", "signal": "counts", "axes": ["y", "x"]})
        g["counts"] = img
        for axis, n in (("y", 24), ("x", 32)):
            g[axis] = np.arange(n) * 0.5
            g[axis].attrs["units"] = "angstrom"
    image = read_image(tmp_path / "a.nxs")
    check(image, (24, 32), 0.05, "nm")
    assert image.metadata["dataset"] == "/entry/image/counts"
    assert read_image(tmp_path / "a.nxs", index="noise").data.shape == (8, 8)


# --- formats through rosettasciio, nanonispy2, gwyfile --------------------------------------


def test_emd_through_rosettasciio(tmp_path, rng):
    pytest.importorskip("rsciio")
    from rsciio.emd import file_writer

    data = rng.random((24, 32)).astype(np.float32)
    axes = [
        {"name": n, "size": s, "scale": 0.5, "units": "Å", "offset": 0.0, "navigate": False}
        for n, s in (("y", 24), ("x", 32))
    ]
    meta = {"General": {"title": "HAADF"}, "Signal": {}}
    file_writer(
        str(tmp_path / "a.emd"),
        {"data": data, "axes": axes, "metadata": meta, "original_metadata": {}},
    )
    image = read_image(tmp_path / "a.emd")
    check(image, (24, 32), 0.05, "nm")
    assert np.array_equal(image.data, data) and image.metadata["title"] == "HAADF"


def write_sxm(path, z, current, scan_dir="up"):
    """A minimal Nanonis .sxm: two channels, forward and backward, 8 x 6 nm."""
    ny, nx = z.shape
    header = [
        ":SCAN_PIXELS:",
        f"       {nx}       {ny}",
        ":SCAN_RANGE:",
        "           8.000000E-9           6.000000E-9",
        ":SCAN_OFFSET:",
        "0.0E+0 0.0E+0",
        ":SCAN_TIME:",
        "1.0E+0 1.0E+0",
        ":SCAN_DIR:",
        scan_dir,
        ":BIAS:",
        "1.0E-1",
        ":ACQ_TIME:",
        "10.0",
        ":DATA_INFO:",
        "\tChannel\tName\tUnit\tDirection\tCalibration\tOffset",
        "\t14\tZ\tm\tboth\t1.0E+0\t0.0E+0",
        "\t0\tCurrent\tA\tboth\t1.0E+0\t0.0E+0",
        "",
        ":SCANIT_END:",
        "",
    ]
    # stored as recorded: bottom line first for an upward scan, backward lines reversed
    rec = [a[::-1] if scan_dir == "up" else a for a in (z, current)]
    blocks = np.stack([np.stack([a, a[:, ::-1]]) for a in rec]).astype(">f4")
    path.write_bytes("\n".join(header).encode() + b"\n\n\x1a\x04" + blocks.tobytes())


def test_nanonis_sxm_channels(tmp_path, rng):
    pytest.importorskip("nanonispy2")
    z, current = rng.random((24, 32)), rng.random((24, 32))
    path = tmp_path / "scan.sxm"
    write_sxm(path, z, current)
    with pytest.raises(ReaderError, match=r"holds 4 images \(Z/forward 24x32, Z/backward"):
        read_image(path)
    image = read_image(path, index="Z/forward")
    check(image, (24, 32), 0.25, "nm")
    assert np.allclose(image.data, z)
    assert np.allclose(read_image(path, index="Z/backward").data, z)
    assert np.allclose(read_image(path, index=2).data, current)


def test_gwyddion_channels(tmp_path, rng):
    pytest.importorskip("gwyfile")
    from gwyfile.objects import GwyContainer, GwyDataField

    topo, phase = rng.random((24, 32)), rng.random((24, 32))
    obj = GwyContainer()
    obj["/0/data/title"] = "Topo"
    obj["/0/data"] = GwyDataField(topo, xreal=6.4e-9, yreal=4.8e-9, si_unit_xy="m")
    obj.tofile(str(tmp_path / "one.gwy"))
    check(read_image(tmp_path / "one.gwy"), (24, 32), 0.2, "nm")
    obj["/1/data/title"] = "Phase"
    obj["/1/data"] = GwyDataField(phase, xreal=6.4e-9, yreal=4.8e-9, si_unit_xy="m")
    obj.tofile(str(tmp_path / "two.gwy"))
    with pytest.raises(ReaderError, match=r"holds 2 images \(Topo 24x32, Phase 24x32\)"):
        read_image(tmp_path / "two.gwy")
    assert np.allclose(read_image(tmp_path / "two.gwy", index="Phase").data, phase)


@pytest.mark.parametrize(
    ("suffix", "module", "extra"),
    [(".dm3", "rsciio.digitalmicrograph", "stem"), (".sxm", "nanonispy2.read", "stm")],
)
def test_missing_extra_names_it(tmp_path, monkeypatch, suffix, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    (tmp_path / f"a{suffix}").write_bytes(b"\0" * 64)
    with pytest.raises(MissingExtraError, match=rf"{suffix} files.*shiftvae\[{extra}\]"):
        read_image(tmp_path / f"a{suffix}")


# --- the real images ------------------------------------------------------------------------


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("name", "shape", "pixel_size"),
    [
        ("mos2_se_implanted_adf.dm3", (1024, 1024), 0.0127),
        ("perovskite_adf_atomap.hdf5", (400, 380), 0.0093),
        ("srtio3_haadf.ser", (1024, 1024), 0.0100),
        ("pto_sro_supercrystal_haadf.hspy", (224, 1312), 0.0150),
        ("graphene_oxide_cafm.tif", (915, 915), None),
        ("wse2_stm_topograph.jpg", (512, 512), None),
    ],
)
def test_real_images(name, shape, pixel_size):
    image = read_image(shared_file(name))
    assert image.data.shape == shape and image.data.dtype == np.float32
    assert np.isfinite(image.data).all() and image.data.std() > 0
    if pixel_size is None:
        assert image.pixel_size is None and image.unit == "px"
    else:
        assert image.pixel_size == pytest.approx(pixel_size, rel=0.01) and image.unit == "nm"


# --- errors ---------------------------------------------------------------------------------


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ReaderError, match=r"image file .*nope\.tif does not exist"):
        read_image(tmp_path / "nope.tif")
    with pytest.raises(ReaderError, match="is a folder, not an image file"):
        read_image(tmp_path)


@pytest.mark.parametrize(("name", "what"), [("a.xyz", "unknown image format '.xyz'"), ("a", "no")])
def test_unknown_suffix_lists_the_supported_ones(tmp_path, name, what):
    (tmp_path / name).write_bytes(b"data")
    with pytest.raises(ReaderError, match=rf"{what}.*supported: .*\.dm3.*\.tif") as exc:
        read_image(tmp_path / name)
    assert all(s in str(exc.value) for s in SUPPORTED_SUFFIXES)


@pytest.mark.parametrize("suffix", [".tif", ".png", ".jpg", ".npy", ".h5", ".dm3", ".ser"])
def test_corrupt_file_wraps_the_library_error(tmp_path, suffix):
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(b"this is not an image file at all" * 8)
    match = rf"cannot read .*bad\{suffix} as .*: the file may be corrupt"
    with pytest.raises(ReaderError, match=match) as exc:
        read_image(path)
    assert exc.value.__cause__ is not None and "\n" not in str(exc.value)


def test_truncated_png_and_empty_file(tmp_path, img):
    PILImage.fromarray(img).save(tmp_path / "t.png")
    (tmp_path / "t.png").write_bytes((tmp_path / "t.png").read_bytes()[:200])
    with pytest.raises(ReaderError, match=r"cannot read .*t\.png"):
        read_image(tmp_path / "t.png")
    (tmp_path / "e.tif").write_bytes(b"")
    with pytest.raises(ReaderError, match=r"e\.tif is an empty file"):
        read_image(tmp_path / "e.tif")


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (np.arange(10.0), r"holds a 1D array of shape \(10,\), not a 2D image"),
        (np.zeros((0, 5)), r"empty image \(shape \(0, 5\)\)"),
        (np.full((8, 8), 3.5), "constant image .every pixel is 3.5."),
        (np.zeros((2, 3, 4, 5)), "4D array of shape"),
        (np.array([["a", "b"]]), "does not hold numeric pixel values"),
    ],
)
def test_bad_arrays(tmp_path, data, match):
    np.save(tmp_path / "x.npy", data)
    with pytest.raises(ReaderError, match=match):
        read_image(tmp_path / "x.npy")


def test_nonfinite_pixels_are_counted_unless_allowed(tmp_path, rng):
    data = rng.random((16, 16))
    data[0, :3] = np.nan
    data[5, 5] = np.inf
    np.save(tmp_path / "n.npy", data)
    with pytest.raises(ReaderError, match=r"4 NaN or infinite pixels out of 256.*--fill-nan"):
        read_image(tmp_path / "n.npy")
    image = read_image(tmp_path / "n.npy", allow_nonfinite=True)
    assert np.isnan(image.data).sum() == 3


def test_index_on_a_single_image_is_refused(tmp_path, rng):
    np.save(tmp_path / "a.npy", rng.random((8, 8)))
    assert read_image(tmp_path / "a.npy", index=0).data.shape == (8, 8)
    with pytest.raises(ReaderError, match="holds a single image: index 2 does not apply"):
        read_image(tmp_path / "a.npy", index=2)


# --- validate -------------------------------------------------------------------------------


def test_fill_nan_uses_the_median_of_finite_pixels():
    data = np.array([[1.0, np.nan, 3.0], [np.inf, 2.0, -np.inf]])
    out = fill_nan(data)
    assert out.dtype == np.float32 and np.array_equal(out, [[1, 2, 3], [2, 2, 2]])
    assert np.isnan(data[0, 1])  # the input is left alone
    with pytest.raises(InputError, match="every one of the 4 pixels is NaN"):
        fill_nan(np.full((2, 2), np.nan))


def test_check_image_raises_input_error_by_default():
    assert check_image(np.eye(3, dtype=bool), "eye").dtype == np.float32
    with pytest.raises(InputError, match="complex"):
        check_image(np.eye(3) * 1j, "c")


def test_read_image_is_exported():
    assert sv.read_image is read_image and "read_image" in sv.__all__
