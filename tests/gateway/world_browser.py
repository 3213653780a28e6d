"""Helpers of the world page test: a `kg gateway --dev` process, Chromium's flags, and
reading a screenshot's pixels (a PNG decoder, so no imaging package is needed)."""

from __future__ import annotations

import contextlib
import os
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class DevGateway:
    url: str
    process: subprocess.Popen[str]


@contextlib.contextmanager
def dev_gateway(
    fixtures: Path, database_url: str, repo: Path, port: int, *, dev: bool = True
) -> Iterator[DevGateway]:
    """``kg gateway --dev`` against ``fixtures`` (KGENTS_FIXTURES_DIR), ready to serve."""
    env = {
        **os.environ,
        "KGENTS_DATABASE_URL": database_url,
        "KGENTS_FIXTURES_DIR": str(fixtures),
        "KGENTS_GATEWAY_TOKEN": "world-test-token",
    }
    kg = Path(sys.executable).parent / "kg"
    args = [str(kg), "gateway", "--port", str(port), "--no-dagster", "--repo", str(repo)]
    process = subprocess.Popen(
        [*args, "--log-level", "warning", *(["--dev"] if dev else [])],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/world/sets", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                raise RuntimeError(process.stdout.read() if process.stdout else "gateway died")
            if time.monotonic() > deadline:
                raise RuntimeError("kg gateway --dev did not start within 60 s")
            time.sleep(0.1)
        yield DevGateway(url, process)
    finally:
        process.terminate()
        try:
            process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


# -- screenshots ------------------------------------------------------------------------


@dataclass
class Image:
    width: int
    height: int
    channels: int
    rows: list[bytes]

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        row = self.rows[y]
        i = x * self.channels
        return row[i], row[i + 1], row[i + 2]

    def mean(self, x0: int, y0: int, x1: int, y1: int) -> tuple[int, int, int]:
        """Average colour of the box [x0, x1) x [y0, y1)."""
        total = [0, 0, 0]
        count = 0
        for y in range(y0, y1):
            for x in range(x0, x1):
                for c, v in enumerate(self.pixel(x, y)):
                    total[c] += v
                count += 1
        return total[0] // count, total[1] // count, total[2] // count


def decode_png(data: bytes) -> Image:
    """8-bit RGB/RGBA, non-interlaced: what Chromium's screenshots are."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and colour in (2, 6), (depth, colour)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        previous = line
    return Image(width, height, channels, rows)


def close(a: tuple[int, int, int], b: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))
