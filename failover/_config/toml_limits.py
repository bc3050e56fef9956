"""Reading a TOML input file within limits: its size and its nesting, checked before parsing.

``tomllib`` parses nested arrays and inline tables recursively, so a file of 3,000 ``[`` raises
RecursionError, and it reads a file whole. ``load_toml`` refuses, with a ``TomlLimitError``
that says which limit and where, a file larger than ``MAX_FILE_BYTES`` or nested deeper than
``MAX_NESTING`` (counted on the text, outside strings and comments, before ``tomllib`` sees
it). Policy, scenario and settings files are a few KiB and nest two or three levels deep.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Final

__all__ = ["MAX_FILE_BYTES", "MAX_NESTING", "TomlLimitError", "check_nesting", "load_toml"]

MAX_FILE_BYTES: Final = 1024 * 1024
"""The largest input file read (1 MiB)."""
MAX_NESTING: Final = 64
"""The deepest nesting of arrays and inline tables (``[`` and ``{``) in an input file."""

# Strings and comments first (their brackets do not count), then one bracket at a time.
_TOKENS: Final = re.compile(
    r'"""(?:\\.|[^\\])*?"""'
    r"|'''.*?'''"
    r'|"(?:\\.|[^"\\\n])*"'
    r"|'[^'\n]*'"
    r"|#[^\n]*"
    r"|[\[{\]}]",
    re.DOTALL,
)


class TomlLimitError(ValueError):
    """A TOML file is too large, too deeply nested or not TOML; the message says which."""


def check_nesting(text: str, limit: int = MAX_NESTING) -> None:
    """Raise TomlLimitError when ``text`` nests ``[`` and ``{`` deeper than ``limit``.

    Brackets inside strings and comments do not count. Unbalanced brackets are left for the
    parser to report.
    """
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                line = text.count("\n", 0, match.start()) + 1
                raise TomlLimitError(
                    f"nested too deeply: more than {limit} levels of arrays and inline tables "
                    f"at line {line}; at most {limit} are accepted"
                )
        elif token in "]}":
            depth = max(depth - 1, 0)


def load_toml(path: str | os.PathLike[str], max_bytes: int = MAX_FILE_BYTES) -> dict[str, Any]:
    """The document of a TOML file, read within the limits.

    Raises:
        OSError: The file cannot be read.
        TomlLimitError: The file is larger than ``max_bytes``, nested too deeply, not UTF-8 or
            not valid TOML (the message says which; it is a ValueError).
    """
    with Path(path).open("rb") as file:
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise TomlLimitError(
            f"a file of at most {max_bytes} bytes ({max_bytes // 1024} KiB); this one is larger"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TomlLimitError(f"valid TOML in UTF-8: {exc}") from None
    check_nesting(text)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TomlLimitError(f"valid TOML: {exc}") from None
    except RecursionError:
        raise TomlLimitError(
            f"nested too deeply: at most {MAX_NESTING} levels of arrays and inline tables"
        ) from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise TomlLimitError(f"valid TOML with numbers of reasonable size: {exc}") from None
