"""Shared pytest fixtures: where the golden data and the real media live."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
GOLDEN = SHARED / "golden"
MEDIA = SHARED / "media"


@pytest.fixture(scope="session")
def media_dir() -> Path:
    if not MEDIA.is_dir():
        pytest.fail(f"real media missing: expected {MEDIA} (the shared folder beside the checkout)")
    return MEDIA


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    if not GOLDEN.is_dir():
        pytest.fail(f"golden data missing: expected {GOLDEN}")
    return GOLDEN
