"""A sheet's rows kept in a temporary file, so a workbook is parsed once and not held in memory.

calamine parses a whole sheet into memory. Its rows are written here as they are turned into text,
then the workbook is freed before the import's own working set grows; every later pass over the
file (validation, apply, a resume) reads this file instead of parsing the workbook again.

Rows are stored in batches, each a length-prefixed `marshal` record (C speed both ways; only rows
this process wrote are ever read back, so marshal's lack of a stable format does not matter).
Reads use positioned reads (os.pread), so several iterators over one spool do not disturb each other.
"""

from __future__ import annotations

import marshal
import os
import struct
import tempfile
from collections.abc import Iterator
from typing import Final

RowCells = tuple[int, list[str]]

_BATCH_ROWS: Final = 1_000
_LENGTH: Final = struct.Struct("<I")


class RowSpool:
    """Append (row number, cells) rows once, then iterate them from the start any number of times."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="roster-")  # noqa: SIM115 - closed by close()
        self._batch: list[RowCells] = []
        self._size = 0
        self.rows = 0

    def append(self, row_number: int, cells: list[str]) -> None:
        """Add one row at the end."""
        self._batch.append((row_number, cells))
        self.rows += 1
        if len(self._batch) >= _BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            record = marshal.dumps(self._batch)
            self._file.write(_LENGTH.pack(len(record)) + record)
            self._size += _LENGTH.size + len(record)
            self._batch = []

    def finish(self) -> None:
        """Write what is buffered; call once, after the last append."""
        self._flush()
        self._file.flush()

    def __iter__(self) -> Iterator[RowCells]:
        """Every row in the order appended (call finish() first)."""
        fd = self._file.fileno()
        offset = 0
        while offset < self._size:
            (length,) = _LENGTH.unpack(os.pread(fd, _LENGTH.size, offset))
            offset += _LENGTH.size
            batch: list[RowCells] = marshal.loads(os.pread(fd, length, offset))  # noqa: S302 - our own file
            offset += length
            yield from batch

    def close(self) -> None:
        """Delete the temporary file."""
        self._file.close()
