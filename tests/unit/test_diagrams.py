"""The committed diagram images are up to date with their Graphviz sources (docs/diagrams).

``hack/diagrams.sh`` renders each ``NAME.dot`` to ``NAME.svg`` and ``NAME.png`` and records the
source's sha256 in ``NAME.dot.sha256``. Two checks catch a stale image, with or without
Graphviz on the machine:

- always: the recorded sha256 is the source's, so a source edited without re-rendering fails;
- when ``dot`` of the version that rendered the committed SVG is installed: rendering the source
  again gives the committed SVG byte for byte, so an image edited by hand, or rendered from
  another source, fails too. Another Graphviz version lays out differently, so that check is
  skipped there (the sha256 check still runs).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

DIAGRAMS = Path(__file__).resolve().parents[2] / "docs" / "diagrams"
SOURCES = sorted(DIAGRAMS.glob("*.dot"))
_VERSION = re.compile(r"graphviz version (\S+)")


def _ids(path: Path) -> str:
    return path.stem


def _recorded_sha256(source: Path) -> str:
    line = (source.parent / f"{source.name}.sha256").read_text().strip()
    digest, _, name = line.partition("  ")
    assert name == source.name, f"{source.name}.sha256 names {name!r}"
    return digest


def _svg_size_pt(svg: str) -> tuple[float, float]:
    found = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    assert found, "no width/height in pt in the SVG"
    return float(found.group(1)), float(found.group(2))


def _png_size_px(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk comes first
    return width, height


def test_there_are_diagrams() -> None:
    assert SOURCES, f"no .dot sources in {DIAGRAMS}"


@pytest.mark.parametrize("source", SOURCES, ids=_ids)
def test_recorded_sha256_is_the_sources(source: Path) -> None:
    actual = hashlib.sha256(source.read_bytes()).hexdigest()
    assert _recorded_sha256(source) == actual, (
        f"{source.name} changed since its images were rendered: run hack/diagrams.sh"
    )


@pytest.mark.parametrize("source", SOURCES, ids=_ids)
def test_png_has_the_svgs_size(source: Path) -> None:
    # Both come from one run of hack/diagrams.sh; dot renders PNGs at 96 dpi, SVGs in points
    # (72 per inch), so a PNG left over from another layout shows in its size.
    svg_w, svg_h = _svg_size_pt(source.with_suffix(".svg").read_text())
    png_w, png_h = _png_size_px(source.with_suffix(".png").read_bytes())
    assert abs(png_w - svg_w * 96 / 72) <= 2
    assert abs(png_h - svg_h * 96 / 72) <= 2


def _installed_dot_version() -> str | None:
    if shutil.which("dot") is None:
        return None
    shown = subprocess.run(["dot", "-V"], capture_output=True, text=True, check=True).stderr
    found = _VERSION.search(shown)
    return found.group(1) if found else None


@pytest.mark.parametrize("source", SOURCES, ids=_ids)
def test_svg_is_rendered_from_the_source(source: Path) -> None:
    committed = source.with_suffix(".svg").read_text()
    rendered_by = _VERSION.search(committed)
    assert rendered_by, f"{source.stem}.svg does not say which Graphviz rendered it"
    installed = _installed_dot_version()
    if installed is None:
        pytest.skip("Graphviz's dot is not installed (the sha256 check still ran)")
    if installed != rendered_by.group(1):
        pytest.skip(f"dot {installed} here, the SVG is from dot {rendered_by.group(1)}")
    fresh = subprocess.run(
        ["dot", "-Tsvg", source.name],
        cwd=source.parent,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert fresh == committed, f"{source.stem}.svg is not what {source.name} renders to"
