"""Shared fixtures.  The seed threads are parsed once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.parse import ParsedThread, parse_paths, to_frames

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def seed_dir() -> Path:
    """The five seed threads (000..004) shipped with the repository."""
    return ROOT / "corpora" / "probation_blog" / "raw"


@pytest.fixture(scope="session")
def seed_result(seed_dir):
    return parse_paths([seed_dir])


@pytest.fixture(scope="session")
def seed_threads(seed_result) -> dict[str, ParsedThread]:
    """thread_id -> ParsedThread for every seed thread."""
    return {t.thread_id: t for t in seed_result.threads}


@pytest.fixture(scope="session")
def seed_units(seed_result):
    """The ``units`` table of the seed threads (one row per post, contribution, comment, reply)."""
    return to_frames(seed_result.threads)[1]
