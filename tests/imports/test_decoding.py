"""Format sniffing and streaming decoding: BOMs, strict UTF-8, strict GB18030, refusals."""

from __future__ import annotations

import codecs
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.imports.read.decoding import CHUNK_BYTES, DecodedLines, RosterFileError, detect_format


class TrickleStream(io.RawIOBase):
    """A one-way stream that returns at most `step` bytes per read, like a slow upload."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = data
        self._pos = 0
        self._step = step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self._step if size < 0 else min(size, self._step)
        chunk = self._data[self._pos : self._pos + size]
        self._pos += len(chunk)
        return chunk


def decode(data: bytes, step: int | None = None) -> tuple[str, str]:
    """All decoded text and the codec chosen."""
    stream = TrickleStream(data, step) if step else io.BytesIO(data)
    lines = DecodedLines(stream)
    return "".join(lines), lines.encoding


def refused(data: bytes) -> str:
    """Decode expecting a RosterFileError; return its code."""
    with pytest.raises(RosterFileError) as caught:
        decode(data)
    return caught.value.code


TEXT = "名称,类型\r\n张三家庭农场,农户\r\n"


@pytest.mark.parametrize(
    ("data", "codec"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8"),
        (TEXT.encode("gbk"), "gb18030"),
        (TEXT.encode("gb18030"), "gb18030"),
        (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "utf-16-le"),
        # Without a BOM (some exporters leave it off): told by which byte of each pair holds the NULs.
        (TEXT.encode("utf-16-le"), "utf-16-le"),
        (TEXT.encode("utf-16-be"), "utf-16-be"),
        (b"name,kind\r\nZhang,household\r\n", "ascii"),
    ],
)
def test_supported_encodings(data: bytes, codec: str) -> None:
    text, chosen = decode(data)
    assert chosen == codec
    assert text == (TEXT if codec != "ascii" else data.decode())


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_with_characters_ending_in_a_zero_byte(codec: str) -> None:
    # 一 is U+4E00 and 销 U+9500: each puts a NUL on the side where ASCII has none.
    text = "名称,主营产品,备注\r\n" + "一村一品销售户,花木,销售一部\r\n" * 40
    assert decode(text.encode(codec)) == (text, codec)


def test_gb18030_only_characters() -> None:
    text = "名称\r\n𠮷野家,㐀\r\n"  # outside GBK, inside GB18030
    assert decode(text.encode("gb18030")) == (text, "gb18030")


def test_ascii_prefix_then_gbk_switches_codec() -> None:
    # Longer than the first chunks, so the decision happens late and must still be right.
    ascii_part = "a,b\r\n" * (3 * CHUNK_BYTES // 5)
    data = (ascii_part + "张三,农户\r\n").encode("gbk")
    text, codec = decode(data)
    assert codec == "gb18030" and text.endswith("张三,农户\r\n")


def test_latin1_refused_with_save_as_advice() -> None:
    with pytest.raises(RosterFileError) as caught:
        decode("name,kind\r\nJosé,household\r\nRenée,coop\r\n".encode("latin-1"))
    assert caught.value.code == "encoding_unsupported"
    assert "CSV UTF-8" in caught.value.message_zh and "CSV UTF-8" in caught.value.message_en


TRADITIONAL = (
    "外部編號,名稱,類型,手機號碼,主營產品,可分享資源\r\n"
    "E1,王小梅花木合作社,農戶,13800000001,盆景,技術\r\n"
    "E2,沭陽縣張偉電商,企業,13800000002,蘋果;獼猴桃,物流\r\n"
)


def test_big5_is_refused_not_read_as_garbled_gbk() -> None:
    # GB18030 decodes these bytes without an error ("场絪腹,嘿,摸..."): the import would store nonsense.
    data = TRADITIONAL.encode("big5")
    assert data.decode("gb18030")  # the trap: no decode error
    with pytest.raises(RosterFileError) as caught:
        decode(data)
    assert caught.value.code == "encoding_big5"
    assert "Big5" in caught.value.message_zh and "CSV UTF-8" in caught.value.message_en
    # Punctuation (、（）「」) counts on neither side: a roster full of it is still told apart.
    marked = "名稱,備註\r\n" + "".join(f"王{n}合作社,「直銷」（冷鏈、物流）、「技術」\r\n" for n in range(5))
    assert refused(marked.encode("big5")) == "encoding_big5"
    # Behind a long ASCII prefix the judgement is made on the chunk where the Chinese starts.
    assert refused(("a,b\r\n" * (3 * CHUNK_BYTES // 5)).encode() + data) == "encoding_big5"


@pytest.mark.parametrize(
    "text",
    [
        TEXT * 20,
        # Rare characters of GBK's extension in names (玥, 堃, 喆, 犇, 淼, 昇) stay GBK.
        "名称,类型\r\n"
        + "".join(f"{n}家庭农场,农户\r\n" for n in ("刘玥", "王堃", "张喆", "李犇", "陈淼", "周昇")),
        # Punctuation-heavy simplified text stays GBK.
        "名称,备注\r\n" + "「直销」（冷链、物流）、「技术」；《说明》\r\n" * 5,
        # Traditional characters GBK also holds (繁體 written in GBK): still GBK, as written.
        "名稱,類型\r\n" + "張三家庭農場,農戶\r\n" * 5,
    ],
)
def test_gbk_rosters_are_not_taken_for_big5(text: str) -> None:
    assert decode(text.encode("gbk")) == (text, "gb18030")


def test_invalid_byte_late_in_utf8_file_reports_offset_and_line() -> None:
    head = ("名称,类型\n" + "张三,农户\n" * 20_000).encode("utf-8")
    data = head + b"bad\xff,x\n"
    with pytest.raises(RosterFileError) as caught:
        decode(data)
    assert caught.value.code == "encoding_invalid_byte"
    assert f"byte offset {len(head) + 3}" in caught.value.message_en
    assert "line 20002" in caught.value.message_en


def test_nul_byte_refused() -> None:
    assert refused(b"name,kind\r\nab\x00c,household\r\n") == "binary_content"


@pytest.mark.parametrize(
    "data",
    [bytes(64), b"name,kind\r\n" + b"\x00a\x00\x00" * 20],
    ids=["all-nul", "nul-in-both-bytes-of-pairs"],
)
def test_nuls_that_are_not_utf16_stay_binary_content(data: bytes) -> None:
    assert refused(data) == "binary_content"


@pytest.mark.parametrize(
    "data",
    [TEXT.encode("utf-16-le")[1:], b"name,kind\r\n" + b"a\x00b\x00" * 20],
    ids=["utf16-cut-by-a-byte", "nul-high-bytes-after-utf8"],
)
def test_nuls_on_one_side_that_do_not_decode_as_utf16_are_refused(data: bytes) -> None:
    # Read as UTF-16 because of where the NULs fall; what follows does not decode, and the file is
    # refused as a whole instead of being imported as garbage.
    assert refused(data) == "encoding_invalid_byte"


@pytest.mark.parametrize(
    ("head", "code"),
    [
        (b"%PDF-1.7\n", "not_a_roster"),
        (b"\x89PNG\r\n\x1a\n", "not_a_roster"),
        (b"", "file_empty"),
        (b"not a zip", "xlsx_corrupt"),
    ],
)
def test_detect_format_refusals(head: bytes, code: str) -> None:
    with pytest.raises(RosterFileError) as caught:
        detect_format(head, filename="roster.xlsx" if code == "xlsx_corrupt" else "x.bin")
    assert caught.value.code == code


def test_detect_format_by_magic_not_name() -> None:
    assert detect_format(b"PK\x03\x04rest", filename="roster.csv") == "xlsx"
    assert (
        detect_format(b"PK\x03\x04" + bytes(26) + b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet")
        == "ods"
    )
    assert detect_format(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100)) == "xls"
    assert detect_format(b"a,b\n", filename="roster.txt") == "csv"


cells = st.text(alphabet=st.sampled_from(list("张三李四苹果梨，、;abcXYZ 0123,\"'\t\r\n𠮷")), max_size=30)


@settings(max_examples=40, deadline=None)
@given(st.lists(cells, min_size=1, max_size=40), st.sampled_from(["utf-8", "gb18030"]), st.integers(1, 7))
def test_decoding_survives_any_chunk_boundary(parts: list[str], codec: str, step: int) -> None:
    # A trickling stream splits multibyte characters and CRLF pairs at every possible place.
    data = "\r\n".join(parts).encode(codec)
    try:  # the rule on a file this small: strict UTF-8 if it decodes (2-byte GBK can), else GB18030
        expected = data.decode("utf-8")
    except UnicodeDecodeError:
        expected = data.decode("gb18030")
    assert decode(data, step=step)[0] == expected


def test_lines_keep_endings_including_lone_cr() -> None:
    lines = list(DecodedLines(io.BytesIO(b"a\r\nb\rc\nd")))
    assert lines == ["a\r\n", "b\r", "c\n", "d"]


def test_line_cap_is_a_file_error() -> None:
    with pytest.raises(RosterFileError) as caught:
        list(DecodedLines(io.BytesIO(b"x" * 300_000), max_line_chars=100_000))
    assert caught.value.code == "line_too_long"


@pytest.mark.parametrize("codec", ["utf-8", "gb18030", "utf-16-le"])
@pytest.mark.parametrize("shift", [0, 1, 2, 3])
def test_multibyte_characters_split_across_chunks(codec: str, shift: int) -> None:
    # Several 64 KB chunk boundaries fall inside characters and between \r and \n.
    text = "a" * shift + "张三,苹果𠮷\r\n" * 40_000
    data = (b"\xff\xfe" if codec == "utf-16-le" else b"") + text.encode(codec)
    decoded, chosen = decode(data, step=5_000)
    assert chosen == codec and decoded == text
    lines = list(DecodedLines(io.BytesIO(data)))
    assert len(lines) == 40_000 and all(line.endswith("\r\n") for line in lines)
