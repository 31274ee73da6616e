"""Roster import: a township office's spreadsheet of sellers becomes mentor profiles.

The pipeline, one stage per folder (each stage only knows the one before it):

    upload (router / cli) ─► service.create_import: file stored, import row "queued", job queued
                                   │
                                   ▼  job "roster_import" (jobs.py) ─► apply.run_import
    ┌──────────────────────────────┴───────────────────────────────────────────────────────┐
    │ read/      bytes ─► format + encoding (decoding) ─► header map (headers)             │
    │            ─► RawRow(row number, {field: text}, formula cells) one at a time (reading)│
    │ validate/  pass 1, raw cells only: row limit, no data rows, keys shared by rows (keys) │
    │            pass 2: RawRow ─► (raw, ValidatedRow) pairs (rows, normalise, codes,       │
    │            resolve) ─► Checked(raw, validated, region to store) (stream)              │
    │ write/     per chunk, ONE transaction: checkpoint, township lock, plan against the    │
    │            table (upsert.ChunkPlanner), set-based insert/update (upsert.write_mentors),│
    │            each row's outcome and issues (outcomes)                                   │
    └───────────────────────────────────────────────────────────────────────────────────────┘
                                   │
                                   ▼
    status, rows, errors (JSON) and errors.csv (report) through the router

Nothing holds the whole file: both passes stream it. A workbook's sheet, which calamine parses whole,
is converted once into a temporary row file (read/spool.py) and freed; both passes read that file.
A killed worker resumes after the last committed chunk (apply.py). read/ and validate/ are pure (no
database) except the region lookup, which is injected.
"""
