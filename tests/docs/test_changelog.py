"""CHANGELOG.md is in Keep a Changelog form: an [Unreleased] section first, then released
versions newest first, each with only the standard kinds of change, in their order."""

from __future__ import annotations

import re

from tests.docs._pages import ROOT

KINDS = ["Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"]
TEXT = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")


def test_the_header_names_the_format() -> None:
    assert TEXT.startswith("# Changelog\n")
    assert "[Keep a Changelog](https://keepachangelog.com/en/1.1.0/)" in TEXT
    assert "[Semantic Versioning](https://semver.org/spec/v2.0.0.html)" in TEXT


def test_versions_and_kinds_follow_the_form() -> None:
    versions = re.findall(r"^## (.+)$", TEXT, re.MULTILINE)
    assert versions[0] == "[Unreleased]"
    for version in versions[1:]:
        assert re.fullmatch(r"\[\d+\.\d+\.\d+\] - \d{4}-\d\d-\d\d", version), version
    for part in re.split(r"^## .+$", TEXT, flags=re.MULTILINE)[1:]:
        kinds = re.findall(r"^### (.+)$", part, re.MULTILINE)
        assert kinds, "a version without any change"
        assert all(kind in KINDS for kind in kinds), kinds
        assert kinds == sorted(kinds, key=KINDS.index), kinds
        for chunk in re.split(r"^### .+$", part, flags=re.MULTILINE)[1:]:
            entries = [line for line in chunk.splitlines() if line and not line.startswith(" ")]
            assert entries, "a kind of change without an entry"
            assert all(line.startswith("- ") for line in entries), entries[:3]
