"""Image sizes read from file headers, a few bytes, before decoding: to pick a reduced JPEG decode and to refuse
an image of more pixels than preprocess.max_megapixels without allocating it. None where a header is not one of
these formats or is damaged: the full decode then says what is wrong."""

import os
import struct
from pathlib import Path

# JPEG start-of-frame markers (baseline, progressive, ...); C4, C8 and CC are other segments
_SOF_MARKERS = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def jpeg_header(path: Path) -> tuple[int, int, int] | None:
    """(height, width, components) from a JPEG's start-of-frame segment, or None for anything else (or a damaged
    header: the full decode then says what is wrong)."""
    try:
        with open(path, "rb") as f:
            if f.read(2) != b"\xff\xd8":
                return None
            while True:
                byte = f.read(1)
                while byte == b"\xff":  # fill bytes before a marker
                    byte = f.read(1)
                if not byte:
                    return None
                marker = byte[0]
                if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
                    continue
                length = int.from_bytes(f.read(2), "big")
                if marker in _SOF_MARKERS:
                    segment = f.read(6)
                    if len(segment) < 6:
                        return None
                    height, width = int.from_bytes(segment[1:3], "big"), int.from_bytes(segment[3:5], "big")
                    return height, width, segment[5]
                if marker == 0xDA or length < 2:  # image data before any frame header
                    return None
                f.seek(length - 2, os.SEEK_CUR)
    except OSError:
        return None


def pixel_size(path: Path) -> tuple[int, int] | None:
    """(height, width) of a JPEG, PNG, BMP or WebP file from its header."""
    jpeg = jpeg_header(path)
    return jpeg[:2] if jpeg is not None else other_pixel_size(path)


def other_pixel_size(path: Path) -> tuple[int, int] | None:
    """(height, width) of a PNG, BMP or WebP file from its header (for a JPEG's, see jpeg_header)."""
    try:
        with open(path, "rb") as f:
            head = f.read(32)
    except OSError:
        return None
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        return height, width
    if head.startswith(b"BM") and len(head) >= 26:
        if struct.unpack("<I", head[14:18])[0] == 12:  # OS/2 bitmap header
            width, height = struct.unpack("<HH", head[18:22])
        else:
            width, height = struct.unpack("<ii", head[18:26])
        return abs(height), abs(width)
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP" and len(head) >= 30:
        chunk = head[12:16]
        if chunk == b"VP8 ":
            width, height = struct.unpack("<HH", head[26:30])
            return height & 0x3FFF, width & 0x3FFF
        if chunk == b"VP8L":
            bits = int.from_bytes(head[21:25], "little")
            return ((bits >> 14) & 0x3FFF) + 1, (bits & 0x3FFF) + 1
        if chunk == b"VP8X":
            return int.from_bytes(head[27:30], "little") + 1, int.from_bytes(head[24:27], "little") + 1
    return None
