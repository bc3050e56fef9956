"""Helpers shared by the settings tests (no tests here): the fixture files, a fake API key, and
a provider table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["FIXTURES", "SECRET", "gemini"]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "settings"
SECRET = "sk-TEST-7f3a9c1e-never-print-me"


def gemini(**changes: Any) -> dict[str, Any]:
    return {"name": "gemini", "kind": "gemini", **changes}
