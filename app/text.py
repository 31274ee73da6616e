"""Characters that change how text reads without being seen, and the one rule that drops them.

Zero-width marks, the byte-order mark and the bidirectional controls (U+202A-U+202E, U+2066-U+2069)
can make a name look blank, or show its letters in another order than they are stored in. The roster
importer and every API body drop them, so a name typed in either place is the same text.
"""

from __future__ import annotations

import re
from typing import Final

INVISIBLE_CHARS: Final = "\u200b\u200c\u200d\u2060\ufeff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
INVISIBLE_RE: Final = re.compile(f"[{INVISIBLE_CHARS}]")
INVISIBLE: Final = frozenset(
    "\u200b\u200c\u200d\u2060\ufeff\u061c\u200e\u200f"
    + "".join(map(chr, range(0x202A, 0x202F)))
    + "".join(map(chr, range(0x2066, 0x206A)))
)


def drop_invisible(text: str) -> str:
    """The text without its invisible formatting characters."""
    return INVISIBLE_RE.sub("", text) if text else text
