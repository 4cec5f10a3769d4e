"""Hostile inputs for the dataset tests, built on the fly (never committed).

A plain module, not conftest: ``from conftest import ...`` finds whichever conftest was imported
last when several test folders run together.
"""

import struct
import zipfile
import zlib
from pathlib import Path


def png_bytes(width: int, height: int, bit_depth: int = 8, color_type: int = 2, rows=None) -> bytes:
    """A PNG with the given header; ``rows`` (raw scanlines) default to one tiny IDAT.

    A header declaring 100000x100000 pixels with almost no data is a decompression bomb that costs
    nothing to build.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    data = zlib.compress(rows if rows is not None else b"\0" * 16)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def deflated_zeros(size: int) -> bytes:
    """A raw deflate stream of ``size`` zero bytes (a multiple of 1 MiB), built in milliseconds.

    After a full flush the compressor starts afresh, so every further MiB of zeros compresses to
    the same bytes: 6 GiB is one block repeated, about 6 MB in all, never 6 GiB in memory.
    """
    mib = 1 << 20
    assert size % mib == 0
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(bytes(mib)) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeat = compressor.compress(bytes(mib)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return first + repeat * (size // mib - 1) + compressor.flush()


def write_zip_bomb(
    path: Path, name: str, size: int, others: dict[str, bytes] | None = None
) -> None:
    """A zip whose member ``name`` inflates to ``size`` zero bytes (zip64 headers, CRC left 0).

    ``others`` are stored as ordinary members first. The CRC would only be checked after the whole
    member was read, which is exactly what must never happen.
    """
    with zipfile.ZipFile(path, "w") as z:
        for other, data in (others or {}).items():
            z.writestr(other, data)
    stream = deflated_zeros(size)
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        start = z.start_dir
    with open(path, "r+b") as f:
        f.seek(start)
        central = f.read()
    # Keep the existing members' central records (up to the end record), then add the bomb.
    records = central[: central.rfind(b"PK\x05\x06")]
    encoded = name.encode()
    zip64 = struct.pack("<HHQQ", 1, 16, size, len(stream))  # the real sizes, in 64 bits
    unknown = 0xFFFFFFFF  # "see the zip64 field"
    # version 4.5 (zip64), no flags, deflate, 1980-01-01 00:00, CRC 0
    common = (45, 0, 8, 0, 0x21, 0, unknown, unknown, len(encoded), len(zip64))
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, *common)
    with open(path, "r+b") as f:
        f.seek(start)
        f.write(local + encoded + zip64 + stream)
        central_start = f.tell()
        record = struct.pack(
            "<IH" + "HHHHHIIIHH" + "HHHII", 0x02014B50, 45, *common, 0, 0, 0, 0o644 << 16, start
        )
        f.write(records + record + encoded + zip64)
        central_size = f.tell() - central_start
        count = len(infos) + 1
        end = (0x06054B50, 0, 0, count, count, central_size, central_start, 0)
        f.write(struct.pack("<IHHHHIIH", *end))
        f.truncate()
