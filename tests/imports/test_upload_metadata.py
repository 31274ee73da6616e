"""What a client says about its upload (file name, media type) is stored only as plain text."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import RosterImport
from tests.imports.conftest import API_HEADER, ZHAXIA, api_row, csv_bytes


def _raw_upload(client, user, disposition: bytes, content_type: bytes = b"text/csv"):
    """A multipart body written by hand: clients such as httpx escape what a hostile one sends as is."""
    body = (
        b'--BOUND\r\nContent-Disposition: form-data; name="file"; filename="'
        + disposition
        + b'"\r\nContent-Type: '
        + content_type
        + b"\r\n\r\n"
        + csv_bytes([api_row(2)], header=API_HEADER)
        + b"\r\n--BOUND--\r\n"
    )
    headers = {**user.headers, "Content-Type": "multipart/form-data; boundary=BOUND"}
    return client.post("/api/v1/imports", content=body, headers=headers)


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        (b"ro\x00ster.csv", "roster.csv"),  # NUL: PostgreSQL refuses it in text (was a 500)
        (b"\x01ro\x1bster\x7f.csv", "roster.csv"),
        ("名单\u202ecsv.exe".encode(), "名单csv.exe"),  # a bidi override that disguises the name
        (b"C:\\fakepath\\..\\roster.csv", "roster.csv"),
        (b"../../etc/passwd", "passwd"),
        (b"\x00", "roster"),
    ],
    ids=["nul", "control", "bidi", "windows-path", "traversal", "only-nul"],
)
def test_the_file_name_is_stored_as_its_visible_base_name(
    client, make_user, run_jobs, db, sent: bytes, stored: str
) -> None:
    office = make_user("township_office", ZHAXIA)
    r = _raw_upload(client, office, sent)
    assert r.status_code == 202, r.text
    run_jobs()
    status = client.get(r.json()["url"], headers=office.headers).json()
    assert status["filename"] == stored and status["status"] == "done"
    assert status["counts"]["created"] == 1


def test_a_media_type_that_is_not_header_text_is_dropped(client, make_user, run_jobs, db) -> None:
    office = make_user("township_office", ZHAXIA)
    r = _raw_upload(client, office, b"roster.csv", content_type=b"text/csv\x00\x01")
    assert r.status_code == 202, r.text
    run_jobs()
    assert client.get(r.json()["url"], headers=office.headers).json()["status"] == "done"
    db.expire_all()
    assert db.scalar(select(RosterImport.content_type).where(RosterImport.id == r.json()["id"])) is None
