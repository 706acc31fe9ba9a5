"""Every file under data/ is listed in data/README.md with source, licence and a matching sha256."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


def _rows() -> dict[str, list[str]]:
    """file -> the cells of its table row."""
    rows = {}
    for line in (DATA / "README.md").read_text().splitlines():
        m = re.match(r"^\| `([^`]+)` \|(.*)\|$", line)
        if m:
            rows[m.group(1)] = [c.strip() for c in m.group(2).split("|")]
    return rows


def test_every_data_file_is_listed_with_matching_sha256():
    """No file in data/ is missing from the README, and every listed sha256 matches the file."""
    rows = _rows()
    for path in sorted(DATA.rglob("*")):
        if not path.is_file() or path.name == "README.md" and path.parent == DATA:
            continue
        rel = path.relative_to(DATA).as_posix()
        assert rel in rows, f"data/{rel} is not listed in data/README.md"
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert f"`{digest}`" in rows[rel], f"sha256 of data/{rel} does not match data/README.md"


def test_every_listed_file_exists_and_has_source_and_licence():
    """Each row names a source and a licence (non-empty cells) and points at a real file."""
    for rel, cells in _rows().items():
        assert (DATA / rel).is_file(), f"data/README.md lists data/{rel}, which does not exist"
        assert len(cells) >= 3 and all(cells[:-1]), f"row for {rel} lacks a source or licence"
