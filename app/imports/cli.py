"""`jieduan import FILE`: the same import as the API, run synchronously in-process with a progress bar.

Who the import is recorded as: `--as-user USERNAME` (an active admin or township office; an office
imports only its own township), or by default the built-in account `system-import` (role admin,
created on first use, deactivated so nobody can log in with it).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from app.access import Caller
from app.access.roles import IMPORTER_ROLES
from app.auth.passwords import hash_password
from app.config import get_settings
from app.db import make_engine, make_sessionmaker
from app.errors import AppError
from app.imports import service
from app.imports.apply import ImportLimits, run_import
from app.models import Account, ImportRowIssue, RosterImport

SYSTEM_USERNAME = "system-import"


def _system_account(session: Session) -> Account:
    """The inactive account that CLI imports are recorded under when no --as-user is given."""
    account = session.scalar(select(Account).where(Account.username == SYSTEM_USERNAME))
    if account is None:
        account = Account(
            username=SYSTEM_USERNAME,
            password_hash=hash_password(secrets.token_urlsafe(32)),
            role="admin",
            display_name="命令行导入 (system)",
            is_active=False,
        )
        session.add(account)
        session.flush()
    return account


def _caller(session: Session, username: str | None) -> Caller:
    if username is None:
        account = _system_account(session)
    else:
        account = session.scalar(select(Account).where(Account.username == username))
        if account is None or not account.is_active or not Caller.of(account).has_role(*IMPORTER_ROLES):
            sys.exit(f"--as-user {username}: no active admin or township office account by that name")
    return Caller.of(account)


class _Bar:
    """A tqdm bar per phase: rows read while validating, rows applied out of the total after."""

    def __init__(self) -> None:
        self.bar: tqdm[Any] | None = None
        self.phase = ""

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        if phase != self.phase:
            self.close()
            self.phase = phase
            self.bar = tqdm(total=total, desc=phase, unit="rows", file=sys.stderr, dynamic_ncols=True)
        assert self.bar is not None
        if total is not None and self.bar.total != total:
            self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _report(factory: sessionmaker[Session], import_id: int) -> dict[str, Any]:
    with factory() as session:
        imp = session.get(RosterImport, import_id)
        assert imp is not None
        data = service.to_read(imp)
        codes = session.execute(
            select(ImportRowIssue.code, func.count())
            .where(ImportRowIssue.import_id == import_id)
            .group_by(ImportRowIssue.code)
            .order_by(func.count().desc())
        ).all()
    data["issue_codes"] = {code: n for code, n in codes}
    return data


def cmd_import(args: argparse.Namespace) -> None:
    """Import a roster file (or resume an interrupted import) and print the report."""
    settings = get_settings()
    factory = make_sessionmaker(make_engine(settings.database_url))
    if args.resume is not None:
        import_id = args.resume
    else:
        if args.file is None:
            sys.exit("FILE is required (or --resume IMPORT_ID)")
        path = Path(args.file)
        size = path.stat().st_size
        if size > settings.import_max_bytes:
            sys.exit(
                f"{path}: {size} bytes, over the limit of {settings.import_max_bytes} "
                "(JIEDUAN_IMPORT_MAX_BYTES)"
            )
        data = path.read_bytes()
        try:
            with factory.begin() as session:
                caller = _caller(session, args.as_user)
                imp = service.create_import(
                    session,
                    created_by=caller.id,
                    township=service.target_township(session, caller, args.township),
                    data=data,
                    filename=path.name,
                    content_type=None,
                    sheet=args.sheet,
                    dry_run=args.dry_run,
                    on_error=args.on_error,
                )
                import_id = imp.id
        except AppError as exc:
            sys.exit(f"{exc.code}: {exc.detail[1] if isinstance(exc.detail, tuple) else exc.detail}")
    bar = _Bar()
    try:
        run_import(factory, import_id, limits=ImportLimits.from_settings(settings), progress=bar)
    finally:
        bar.close()
    report = _report(factory, import_id)
    print(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    if report["status"] == "failed":
        sys.exit(1)


def add_import_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the `import` subcommand."""
    p = sub.add_parser("import", help=cmd_import.__doc__, description=__doc__)
    p.add_argument("file", nargs="?", help="roster file: CSV (UTF-8/GBK), XLSX, XLS or ODS")
    p.add_argument("--township", help="9-digit township the roster is for (offices: their own)")
    p.add_argument("--dry-run", action="store_true", help="validate and report; write no mentors")
    p.add_argument("--on-error", choices=["skip_row", "reject_file"], default="skip_row")
    p.add_argument("--sheet", help="XLSX worksheet (default: the first visible one)")
    p.add_argument(
        "--as-user", help="record the import as this admin/office account (default: system-import)"
    )
    p.add_argument("--resume", type=int, metavar="IMPORT_ID", help="continue an interrupted import")
    p.set_defaults(func=cmd_import)
