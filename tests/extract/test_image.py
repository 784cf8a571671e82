"""An image's size from its first bytes."""

from __future__ import annotations

import struct

import pytest

from digest.extract.image import image_size
from tests.extract.helpers import png


def jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    exif = b"\xff\xe1" + struct.pack(">H", 2 + 3000) + b"\x00" * 3000  # metadata first
    sof = b"\xff\xc2" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + exif + sof + b"\xff\xda"


def webp_vp8x(width: int, height: int) -> bytes:
    body = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00"
    body += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body


@pytest.mark.parametrize(
    ("data", "size"),
    [
        (png(480, 320), (480, 320)),
        (b"GIF89a" + struct.pack("<HH", 64, 48) + b"\x00" * 20, (64, 48)),
        (jpeg(1200, 675), (1200, 675)),
        (webp_vp8x(2000, 1000), (2000, 1000)),
        (b"<html>not an image</html>", None),
        (b"\xff\xd8\xff\xe0\x00", None),  # a JPEG cut before its size
        (b"", None),
    ],
)
def test_image_size_from_the_first_bytes(data: bytes, size: tuple[int, int] | None) -> None:
    assert image_size(data) == size
