"""Format detection and streaming text decoding of uploaded roster files.

CSV files from Excel in China arrive as UTF-8, UTF-8 with BOM, or GBK/GB18030 ("ANSI" on a Chinese
Windows). We never guess with a charset detector: a BOM decides, else strict UTF-8, else strict GB18030,
else the file is refused. Decoding is incremental, so memory does not grow with the file size.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator, Sequence
from typing import BinaryIO, Final, Literal

FileFormat = Literal["csv", "xlsx", "xls", "ods"]

SNIFF_BYTES: Final = 64 * 1024
CHUNK_BYTES: Final = 64 * 1024
# A physical line longer than this is refused as a whole-file problem; rows hold at most
# max_columns cells, each far below this, so only broken or hostile files reach it.
MAX_LINE_CHARS: Final = 4_000_000

ZIP_MAGIC: Final = b"PK\x03\x04"

# Formats people upload by mistake; each gets a specific message instead of "bad encoding".
_BINARY_MAGIC: Final[tuple[tuple[bytes, str], ...]] = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "xls"),  # OLE2: Excel 97-2003 .xls, .et, .doc
    (b"%PDF", "pdf"),
    (b"\x89PNG", "image"),
    (b"\xff\xd8\xff", "image"),
    (b"GIF8", "image"),
    (b"\x1f\x8b", "archive"),
    (b"7z\xbc\xaf", "archive"),
    (b"Rar!", "archive"),
    (b"PK\x05\x06", "archive"),  # empty zip
)

_SAVE_AS_ZH: Final = (
    "请在 Excel 中“另存为”→“CSV UTF-8（逗号分隔）(*.csv)”或“Excel 工作簿 (*.xlsx)”后重新上传。"
)
_SAVE_AS_EN: Final = (
    'In Excel use "Save As" → "CSV UTF-8 (Comma delimited) (*.csv)" or "Excel Workbook (*.xlsx)".'
)

_EOL_RE: Final = re.compile(r"\r\n?|\n")
# An HTML page or an XML document (Excel 2003 "XML Spreadsheet"), after any leading white space.
_MARKUP_RE: Final = re.compile(rb"\s*<(?:\?xml|!doctype\s+html|html|table|meta|head|body|!--)", re.IGNORECASE)


class RosterFileError(Exception):
    """A problem with the whole file: nothing in it can be imported."""

    def __init__(self, code: str, message_zh: str, message_en: str) -> None:
        super().__init__(f"{code}: {message_en}")
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en


def detect_format(head: bytes, *, filename: str | None = None, content_type: str | None = None) -> FileFormat:
    """Choose CSV, XLSX, ODS or XLS from the first bytes; the file name only sharpens error messages."""
    name = (filename or "").lower()
    if head.startswith(ZIP_MAGIC):
        # An ODS stores its media type uncompressed as the first entry, right after the zip header.
        return "ods" if b"opendocument.spreadsheet" in head[:256] else "xlsx"
    if not head.strip():
        raise RosterFileError("file_empty", "文件为空。", "The file is empty.")
    for magic, kind in _BINARY_MAGIC:
        if head.startswith(magic):
            if kind == "xls":
                return "xls"  # OLE2: Excel 97-2003 (WPS .et too); calamine tells a .doc apart
            raise RosterFileError(
                "not_a_roster",
                f"上传的文件不是表格（识别为 {kind}）。" + _SAVE_AS_ZH,
                f"The upload is not a spreadsheet (looks like {kind}). " + _SAVE_AS_EN,
            )
    if _MARKUP_RE.match(head.removeprefix(codecs.BOM_UTF8)):
        # Many "Excel" exports from web systems are an HTML table or Excel 2003 XML named .xls; read as
        # CSV, the first tag looked like a title banner and the file was reported as empty.
        raise RosterFileError(
            "not_a_roster",
            "上传的文件是网页（HTML）或 XML 表格，只是扩展名像 Excel 文件。请用 Excel 打开它，"
            "“另存为”→“Excel 工作簿 (*.xlsx)”或“CSV UTF-8（逗号分隔）(*.csv)”后重新上传。",
            "The upload is a web page (HTML) or an XML spreadsheet named like an Excel file. Open it in "
            'Excel and use "Save As" → "Excel Workbook (*.xlsx)" or "CSV UTF-8 (Comma delimited) (*.csv)".',
        )
    if name.endswith((".xlsx", ".xlsm")) or "spreadsheetml" in (content_type or ""):
        # Named like a workbook but not a zip: typically a truncated or renamed file.
        raise RosterFileError(
            "xlsx_corrupt",
            "文件扩展名为 .xlsx，但内容不是有效的 Excel 工作簿（可能已损坏或不完整）。",
            "The file is named .xlsx but is not a valid Excel workbook (damaged or incomplete).",
        )
    return "csv"


def _bom_encoding(head: bytes) -> tuple[str, int] | None:
    """Return (codec, BOM length) when the data starts with a byte-order mark."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", len(codecs.BOM_UTF8)
    # Excel's "Unicode Text" export is UTF-16LE with a BOM.
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    return None


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 told by where its NUL bytes fall, for exports that leave the BOM off.

    ASCII characters (digits, commas, line breaks: a good part of any roster) have a zero high byte in
    UTF-16, so one byte position of each pair holds many NULs. The other position holds NULs too where a
    character ends in a zero byte, and 一 (U+4E00) and 销 (U+9500) are common in rosters: so the byte order
    is the one in which the sample reads as a table (a line break, comma or tab among its characters; in
    the other order those are U+0A00, U+2C00, U+0900), without NUL characters. Text in UTF-8 or GBK has
    no NUL at all; a file whose NULs fit neither order stays binary content.
    """
    sample = head[:4096]
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    for codec, ascii_side in (("utf-16-be", even), ("utf-16-le", odd)):
        if ascii_side * 10 < pairs:
            continue
        try:
            # Not final: a character or surrogate pair cut by the sample's end is still UTF-16.
            text = codecs.getincrementaldecoder(codec)("strict").decode(sample, final=False)
        except UnicodeDecodeError:
            text = ""
        if "\x00" not in text and any(mark in text for mark in _TABLE_MARKS):
            return codec
    # NULs on one side only: UTF-16 that goes wrong later, refused by the decoder at the bad byte.
    if odd == 0 and even * 10 >= pairs:
        return "utf-16-be"
    if even == 0 and odd * 10 >= pairs:
        return "utf-16-le"
    return None


_TABLE_MARKS: Final = ("\n", ",", "\t", "，")


def _decodes(codec: str, data: bytes, *, final: bool) -> bool:
    """Tell whether data is valid in codec; a sequence cut at the end is fine unless final."""
    try:
        codecs.getincrementaldecoder(codec)("strict").decode(data, final=final)
    except UnicodeDecodeError:
        return False
    return True


def _encoding_refused(detail_zh: str = "", detail_en: str = "") -> RosterFileError:
    """The single message for text we cannot decode, telling the user how to re-save."""
    return RosterFileError(
        "encoding_unsupported",
        f"无法识别文件编码（仅支持 UTF-8 与 GBK/GB18030）{detail_zh}。" + _SAVE_AS_ZH,
        f"Unsupported text encoding (only UTF-8 and GBK/GB18030 are accepted){detail_en}. " + _SAVE_AS_EN,
    )


def _hanzi_share(text: str, codec: str, leads: tuple[int, int], symbols: tuple[int, int]) -> float:
    """The share of the non-ASCII characters whose first byte in codec falls in leads (its hanzi rows).

    Characters in the codec's symbol rows (、（）「」) count on neither side: a roster full of punctuation
    is no evidence either way.
    """
    counted = inside = 0
    for char in text:
        if char.isascii():
            continue
        try:
            lead = char.encode(codec)[0]
        except UnicodeEncodeError:
            counted += 1
            continue
        if symbols[0] <= lead <= symbols[1]:
            continue
        counted += 1
        inside += leads[0] <= lead <= leads[1]
    return inside / counted if counted else 1.0


# GB2312's hanzi (rows 0xB0-0xF7) make up nearly every character of a GBK roster; Big5 read as GBK
# lands on kana, Greek, box drawing and GBK's extension (a third were hanzi in a sample roster).
_GB2312_HANZI, _GB2312_SYMBOLS = (0xB0, 0xF7), (0xA1, 0xA9)
# Big5's frequent characters (常用字, rows 0xA4-0xC6) and its symbol rows.
_BIG5_FREQUENT, _BIG5_SYMBOLS = (0xA4, 0xC6), (0xA1, 0xA3)
_MIN_CHARS_TO_JUDGE = 8


def _big5_verdict(data: bytes) -> bool | None:
    """Whether GB18030 text is really Big5 (Traditional Chinese); None while too few characters tell.

    GB18030 takes nearly any byte pair, so a Big5 file decodes without an error into nonsense names,
    which an import would store. A chunk may start or end inside a character: both readings replace
    what they cannot decode, which only lowers both shares.
    """
    as_gb = data.decode("gb18030", errors="replace")
    if sum(not c.isascii() for c in as_gb) < _MIN_CHARS_TO_JUDGE:
        return None
    if _hanzi_share(as_gb, "gb2312", _GB2312_HANZI, _GB2312_SYMBOLS) >= 0.6:
        return False
    as_big5 = data.decode("big5", errors="replace")
    return _hanzi_share(as_big5, "big5", _BIG5_FREQUENT, _BIG5_SYMBOLS) >= 0.8


def _big5_refused() -> RosterFileError:
    return RosterFileError(
        "encoding_big5",
        "文件似乎是繁体中文 Big5 编码，按 GBK 读取会把名称变成乱码，因此未导入。" + _SAVE_AS_ZH,
        "The file looks like Big5 (Traditional Chinese); read as GBK its names would be garbled, so "
        "nothing was imported. " + _SAVE_AS_EN,
    )


def _binary_content() -> RosterFileError:
    """The error for NUL characters: the file is binary, not a text CSV."""
    return RosterFileError(
        "binary_content",
        "文件含有二进制内容（NUL 字节），不是文本 CSV。" + _SAVE_AS_ZH,
        "The file contains binary data (NUL bytes) and is not a text CSV. " + _SAVE_AS_EN,
    )


class DecodedLines:
    """Iterate the decoded lines of a CSV byte stream, keeping their line endings.

    `encoding` is "ascii" until the first non-ASCII byte, then the codec in use; ASCII is the same in
    UTF-8 and GB18030, so the choice can wait for the first byte that tells them apart.
    """

    def __init__(self, stream: BinaryIO, *, head: bytes = b"", max_line_chars: int = MAX_LINE_CHARS) -> None:
        self._stream = stream
        self._head = head
        self._max_line_chars = max_line_chars
        self.encoding = "ascii"
        self.bytes_read = 0
        self.lines_read = 0
        self._newlines = 0
        self._decoder: codecs.IncrementalDecoder | None = None
        self._big5_open = True

    def _choose(self, data: bytes, *, final: bool) -> None:
        """Pick the codec from the first chunk holding non-ASCII bytes."""
        for codec in ("utf-8", "gb18030"):
            if _decodes(codec, data, final=final):
                self.encoding = codec
                self._decoder = codecs.getincrementaldecoder(codec)("strict")
                return
        raise _encoding_refused()

    def _decode(self, data: bytes, *, final: bool) -> str:
        """Decode one chunk, reporting the absolute byte offset of an invalid sequence."""
        if b"\x00" in data and not self.encoding.startswith("utf-16"):
            # Checked before decoding so binary junk gets this message, not an encoding one.
            raise _binary_content()
        if self._decoder is None:
            if data.isascii():
                self.bytes_read += len(data)
                self._newlines += data.count(b"\n")
                return data.decode("ascii")
            self._choose(data, final=final)
        assert self._decoder is not None
        if self._big5_open and self.encoding == "gb18030":
            # Judged on the first chunk with enough Chinese to tell (the first may hold a byte or two).
            verdict = _big5_verdict(data)
            self._big5_open = verdict is None
            if verdict:
                raise _big5_refused()
        pending = self._decoder.getstate()[0]
        try:
            text = self._decoder.decode(data, final=final)
        except UnicodeDecodeError as exc:
            offset = self.bytes_read - len(pending) + exc.start
            # The bytes before the bad one are valid, so decode them again to count their lines.
            valid = (pending + data)[: exc.start].decode(self.encoding, errors="replace")
            line = self._newlines + valid.count("\n") + 1
            raise RosterFileError(
                "encoding_invalid_byte",
                f"文件按 {self.encoding.upper()} 解码，但第 {line} 行附近（字节偏移 {offset}）出现无效字节，"
                f"文件编码不一致或已损坏。" + _SAVE_AS_ZH,
                f"The file decodes as {self.encoding.upper()} but has an invalid byte near line {line} "
                f"(byte offset {offset}); the encoding is mixed or the file is damaged. " + _SAVE_AS_EN,
            ) from exc
        self.bytes_read += len(data)
        self._newlines += text.count("\n")
        return text

    def _chunks(self) -> Iterator[str]:
        """Yield decoded text chunks of the whole stream."""
        # A whole first chunk: enough to see any BOM and to choose the codec on real text.
        data = self._head + read_head(self._stream, max(0, CHUNK_BYTES - len(self._head)))
        bom = _bom_encoding(data)
        if bom is not None:
            self.encoding = bom[0]
            self._decoder = codecs.getincrementaldecoder(bom[0])("strict")
            self.bytes_read = bom[1]
            data = data[bom[1] :]
        elif (wide := _utf16_without_bom(data)) is not None:
            self.encoding = wide
            self._decoder = codecs.getincrementaldecoder(wide)("strict")
        while True:
            # Full chunks even from a trickling stream: the codec is chosen on a whole chunk.
            more = read_head(self._stream, CHUNK_BYTES)
            if not more:
                text = self._decode(data, final=True)
                if text:
                    yield text
                return
            if data:
                yield self._decode(data, final=False)
            data = more

    def __iter__(self) -> Iterator[str]:
        """Yield lines with their endings (\\r\\n, \\n or a lone \\r from old Mac Excel)."""
        buffer = ""
        for chunk in self._chunks():
            if "\x00" in chunk:
                raise _binary_content()
            buffer += chunk
            start = 0
            # search() from the last end keeps this linear even when a line spans many chunks.
            while (match := _EOL_RE.search(buffer, start)) is not None:
                # A trailing \r may be the first half of \r\n split across chunks.
                if match.end() == len(buffer) and match.group() == "\r":
                    break
                self.lines_read += 1
                yield buffer[start : match.end()]
                start = match.end()
            buffer = buffer[start:]
            if len(buffer) > self._max_line_chars:
                raise RosterFileError(
                    "line_too_long",
                    f"第 {self.lines_read + 1} 行超过 {self._max_line_chars} 个字符，文件无法读取。",
                    f"Line {self.lines_read + 1} is longer than {self._max_line_chars} characters.",
                )
        if buffer:
            self.lines_read += 1
            yield buffer


def read_head(stream: BinaryIO, size: int = SNIFF_BYTES) -> bytes:
    """Read up to size bytes for sniffing, looping over short reads of sockets and spooled files."""
    parts: list[bytes] = []
    left = size
    while left > 0:
        part = stream.read(left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


DELIMITERS: Final = (",", "\t", ";")  # preferred in this order when lines split equally
# Lines read to choose the delimiter: a title or note above the header must not decide it.
DELIMITER_SAMPLE_LINES: Final = 10


def choose_delimiter(lines: Sequence[str]) -> str:
    """The delimiter that splits the first lines most: comma, tab (Excel "Unicode Text") or semicolon.

    Counted over the first lines, not the first alone: a title above the header ("名单（2026, 一批）" over
    a tab-separated table) does not choose a comma the table never uses, and one note full of semicolons
    in a comma file is outweighed by the commas of every line.
    """

    def spread(delimiter: str) -> tuple[int, int]:
        return sum(line.count(delimiter) for line in lines), -DELIMITERS.index(delimiter)

    best = max(DELIMITERS, key=spread)
    return best if spread(best)[0] > 0 else ","
