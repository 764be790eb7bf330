"""Reduced JPEG decoding: large photos bound for a small size decode at 1/2, 1/4 or 1/8 inside libjpeg, close to a
full decode, with EXIF orientation honoured; anything else decodes as before."""

import os
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from imgclf.data.image_headers import pixel_size
from imgclf.data.images import BadImage, decode, fit, jpeg_header
from imgclf.errors import printable
from tests.helpers.data import png_bomb


def detailed_photo(path: Path, width: int = 1600, height: int = 1200, progressive: bool = False) -> Path:
    """A JPEG with detail at every scale (blurred noise), harder on a reduced decode than most photos."""
    noise = np.random.default_rng(0).integers(0, 256, (height // 10, width // 10, 3), np.uint8)
    image = cv2.GaussianBlur(cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC), (0, 0), 3)
    assert cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive)])
    return path


def mean_abs_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(int) - b.astype(int)).mean())


@pytest.mark.parametrize("size", [32, 64, 128])
def test_a_large_jpeg_decodes_reduced_and_close_to_a_full_decode(tmp_path: Path, size: int):
    path = detailed_photo(tmp_path / "photo.jpg")
    reduced, full = decode(path, size), decode(path)
    assert full.shape == (1200, 1600, 3)
    assert reduced.shape == {32: (150, 200, 3), 64: (150, 200, 3), 128: (300, 400, 3)}[size], "the largest reduction"
    assert min(reduced.shape[:2]) >= 2 * size
    difference = mean_abs_difference(fit(reduced, size, "stretch", "rgb"), fit(full, size, "stretch", "rgb"))
    assert difference < 3, f"{difference:.2f} gray levels (of 255) from a full decode plus INTER_AREA"


def with_orientation(jpeg: bytes, orientation: int) -> bytes:
    """The JPEG with an EXIF segment (APP1) that carries only the orientation tag (0x0112)."""
    tiff = b"MM\x00*\x00\x00\x00\x08" + struct.pack(">HHHIHHI", 1, 0x0112, 3, 1, orientation, 0, 0)
    app1 = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[2:]


def test_exif_orientation_is_honoured_in_a_reduced_decode(tmp_path: Path):
    image = np.zeros((800, 1200, 3), np.uint8)
    image[:200, :, 2] = 255  # a red band along the top (BGR)
    jpeg = cv2.imencode(".jpg", image)[1]
    path = tmp_path / "rotated.jpg"
    path.write_bytes(with_orientation(jpeg.tobytes(), 6))  # 6: shown turned 90 degrees clockwise
    reduced = decode(path, 32)
    assert reduced.shape == (150, 100, 3), "1/8 of 800 x 1200, turned upright"
    assert reduced[:, -10:, 0].mean() > 240 and reduced[:, :50, 0].mean() < 10, "the top band is now on the right"
    full = decode(path)
    assert full.shape == (1200, 800, 3)
    assert mean_abs_difference(fit(reduced, 32, "stretch", "rgb"), fit(full, 32, "stretch", "rgb")) < 1.5


def test_small_gray_progressive_and_other_formats(tmp_path: Path):
    gray = tmp_path / "gray.jpg"
    assert cv2.imwrite(str(gray), np.full((600, 800), 90, np.uint8))
    assert jpeg_header(gray) == (600, 800, 1)
    assert decode(gray, 32).shape == (75, 100), "a gray JPEG stays gray when reduced"
    progressive = detailed_photo(tmp_path / "progressive.jpg", progressive=True)
    assert decode(progressive, 64).shape == (150, 200, 3)
    small = detailed_photo(tmp_path / "small.jpg", width=120, height=90)
    assert decode(small, 64).shape == (90, 120, 3), "no reduction would keep twice the size: decoded whole"
    png = tmp_path / "photo.png"
    assert cv2.imwrite(str(png), np.zeros((600, 800, 3), np.uint8))
    assert jpeg_header(png) is None and decode(png, 32).shape == (600, 800, 3)


def test_a_damaged_jpeg_header_is_still_a_bad_image(tmp_path: Path):
    header_only = tmp_path / "header.jpg"
    header_only.write_bytes(detailed_photo(tmp_path / "photo.jpg").read_bytes()[:400])
    with pytest.raises(BadImage):
        decode(header_only, 32)
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"\xff\xd8\xff\xe0\x00")
    assert jpeg_header(garbage) is None
    with pytest.raises(BadImage):
        decode(garbage, 32)


def test_a_file_name_that_is_not_utf8_is_read_by_its_bytes(tmp_path: Path):
    """OpenCV's imread crashed the process (SIGSEGV) on a name Python keeps as surrogate escapes."""
    path = tmp_path / os.fsdecode(b"bad\xff name.png")
    path.write_bytes(cv2.imencode(".png", np.full((6, 9, 3), (255, 0, 0), np.uint8))[1].tobytes())
    image = decode(path, 4)
    assert image.shape == (6, 9, 3) and image[0, 0].tolist() == [0, 0, 255], "BGR read as RGB"
    assert printable(path).endswith("bad\\xff name.png")


@pytest.mark.parametrize(
    ("suffix", "flags"),
    [
        (".jpg", []),
        (".png", []),
        (".bmp", []),
        (".webp", [cv2.IMWRITE_WEBP_QUALITY, 80]),
        (".webp", [cv2.IMWRITE_WEBP_QUALITY, 101]),
    ],
)
def test_the_header_gives_each_formats_size(tmp_path: Path, suffix: str, flags: list):
    path = tmp_path / f"image{suffix}"
    path.write_bytes(cv2.imencode(suffix, np.zeros((37, 53, 3), np.uint8), flags)[1].tobytes())
    assert pixel_size(path) == (37, 53)


def test_an_image_over_the_megapixel_cap_is_refused_before_decoding(tmp_path: Path):
    """A 32,000 x 32,000 PNG (under OpenCV's own limit) took 15.6 s and 4.0 GB to decode."""
    bomb = png_bomb(tmp_path / "big.png", side=20_000)
    with pytest.raises(BadImage, match=r"^20000 x 20000 pixels \(400 megapixels\), over the 100 allowed"):
        decode(bomb, 32, max_pixels=100_000_000)
    small = tmp_path / "small.png"
    small.write_bytes(cv2.imencode(".png", np.zeros((30, 40, 3), np.uint8))[1].tobytes())
    assert decode(small, 32, max_pixels=1200).shape == (30, 40, 3)
    with pytest.raises(BadImage, match=r"^30 x 40 pixels"):
        decode(small, 32, max_pixels=1199)
