"""The grids calamine will allocate for an .xls, read from its BIFF records before calamine opens it.

calamine builds every worksheet of an .xls as a dense grid when it opens the file, from each sheet's
first to its last value cell, and copies the chosen one again when it is read. One number cell at the
far corner (IV65536) of a 6 KB file made it allocate 0.5 GB at open and 1 GB with the copy. A grid's
size is only known from the cell records themselves (a sheet's DIMENSIONS record is written by the
saving program and can say anything), so this walks the workbook stream's record headers once and
notes the rows and columns of every value cell, per worksheet.

Blank cells (BLANK, MULBLANK: formatting only) are not counted: calamine skips them, and Excel writes
them wherever a whole column was formatted.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import IO, Final

import olefile

_BOF: Final = 0x0809
_EOF: Final = 0x000A
_FILEPASS: Final = 0x002F
_MULRK: Final = 0x00BD
# Records that give calamine a cell value, each starting with its row and column (u16, u16):
# FORMULA, LABELSST, RSTRING, NUMBER, LABEL, BOOLERR, RK.
_VALUE_CELLS: Final = frozenset({0x0006, 0x00FD, 0x00D6, 0x0203, 0x0204, 0x0205, 0x027E})
_WORKSHEET: Final = 0x0010  # the BOF's substream type
_NONE: Final = 1 << 16  # above any row or column a u16 can name
# A record's header (type, size) and its body's first two u16: a cell's row and column.
_RECORD_HEAD: Final = struct.Struct("<HHHH")
_U16: Final = struct.Struct("<H")


class XlsEncrypted(Exception):
    """The workbook is password-protected (FILEPASS): its records cannot be read without the key."""


class XlsUnreadable(Exception):
    """The file is not an OLE2 compound file holding a BIFF5/8 workbook stream."""


@dataclass(frozen=True, slots=True)
class Grid:
    """One worksheet's grid as calamine allocates it: from its first to its last value cell."""

    rows: int
    columns: int

    @property
    def cells(self) -> int:
        return self.rows * self.columns


def _workbook_stream(stream: IO[bytes]) -> bytes:
    stream.seek(0)
    try:
        ole = olefile.OleFileIO(stream)
    except (OSError, ValueError, IndexError, struct.error) as exc:  # olefile's errors on a damaged file
        raise XlsUnreadable(str(exc)) from exc
    try:
        for name in ("Workbook", "Book"):  # BIFF8, BIFF5
            if ole.exists(name):
                try:
                    return ole.openstream(name).read()
                except (OSError, ValueError, IndexError, struct.error) as exc:
                    raise XlsUnreadable(str(exc)) from exc
        raise XlsUnreadable("no workbook stream")
    finally:
        ole.close()


def worksheet_grids(stream: IO[bytes]) -> list[Grid]:
    """The grid of every worksheet that has a value cell, from one pass over the record headers.

    Raises XlsEncrypted for a password-protected workbook and XlsUnreadable for a file that is not an
    .xls at all (both before calamine is asked to read it).
    """
    # Padded so that a record's header and the first four bytes of its body unpack in one call.
    data = _workbook_stream(stream) + bytes(8)
    grids: list[Grid] = []
    position, end = 0, len(data) - 8
    depth = 0
    counting = False  # inside a worksheet, outside any chart nested in it
    in_sheet = False
    top = left = _NONE
    bottom = right = -1
    unpack, value_cells = _RECORD_HEAD.unpack_from, _VALUE_CELLS  # locals: this loop runs per cell
    while position + 4 <= end:
        kind, size, first, second = unpack(data, position)
        position += 4 + size
        if kind in value_cells or kind == _MULRK:
            if not counting or size < 4:
                continue
            last = _U16.unpack_from(data, position - 2)[0] if kind == _MULRK and size >= 6 else second
            if first < top:
                top = first
            if first > bottom:
                bottom = first
            if second < left:
                left = second
            if last > right:
                right = last
        elif kind == _BOF:
            depth += 1
            if depth == 1 and second == _WORKSHEET:
                in_sheet, top, left, bottom, right = True, _NONE, _NONE, -1, -1
            counting = depth == 1 and in_sheet
        elif kind == _EOF:
            if depth == 1 and in_sheet:
                if bottom >= 0:
                    grids.append(Grid(bottom - top + 1, right - left + 1))
                in_sheet = False
            depth = max(depth - 1, 0)
            counting = depth == 1 and in_sheet
        elif kind == _FILEPASS and not in_sheet:
            raise XlsEncrypted
    if in_sheet and bottom >= 0:  # a stream cut short inside a sheet: what was read still counts
        grids.append(Grid(bottom - top + 1, right - left + 1))
    return grids
