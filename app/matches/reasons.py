"""The reasons the service itself writes into a match's audit trail, with their words in both languages.

A transition's `reason` is stored as written (the API's timeline returns it as is). The service's own
reasons are fixed English sentences; a person's decision is stored as "<code>: <note>" (`decided`), so
no typed note reads back as one of the service's sentences or codes. The console reads both back in the
page's language through `reason_words`.
"""

from __future__ import annotations

from typing import Final

ACCEPTED: Final = "both parties accepted"
REPLACED_BY_RUN: Final = "replaced by a newer matching run"
PARTY_MOVED: Final = "the party moved to another county"
PARTY_MOVED_BY_IMPORT: Final = "the party moved to another county (roster import)"
PARTY_DEACTIVATED: Final = "the party was deactivated"
COMPLETED: Final = "completed"
DEMO: Final = "demo"  # the demo seed's year of history
# The code of an approval's note: an approval has no reason code of its own.
NOTE: Final = "note"

SERVICE_REASONS: Final[dict[str, tuple[str, str]]] = {
    ACCEPTED: ("双方均已接受", ACCEPTED),
    REPLACED_BY_RUN: ("已被新一轮匹配替换", REPLACED_BY_RUN),
    PARTY_MOVED: ("一方已迁往别的县", PARTY_MOVED),
    PARTY_MOVED_BY_IMPORT: ("一方已迁往别的县（名单导入）", PARTY_MOVED_BY_IMPORT),
    PARTY_DEACTIVATED: ("一方已停用", PARTY_DEACTIVATED),
    COMPLETED: ("已完成", COMPLETED),
    DEMO: ("示例数据", DEMO),
}


def decided(code: str, note: str | None) -> str:
    """A person's decision as stored: its code, then the note they typed, if any."""
    return f"{code}: {note or ''}".strip()


def reason_words(reason: str | None, lang: str, codes: dict[str, tuple[str, str]]) -> str:
    """A stored reason in the page's language: the service's own sentences from SERVICE_REASONS, a
    "<code>: <note>" with the code in words (from `codes`: rejection, cancellation, party), else as typed."""
    if not reason:
        return ""
    pick = 0 if lang == "zh-CN" else 1
    if reason in SERVICE_REASONS:
        return SERVICE_REASONS[reason][pick]
    code, colon, note = reason.partition(":")
    if code in codes:
        words = codes[code][pick]
        note = note.strip()
        return f"{words}{'：' if pick == 0 else ': '}{note}" if colon and note else words
    return reason
