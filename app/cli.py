"""`jieduan` command line for operators.

The matching stack (scikit-learn, SciPy, OR-Tools: seconds of CPU to import) is loaded only by the
commands that use it (seed-demo, worker, retrain), inside them; `jieduan --help`, the account
commands and the roster import start without it. Alembic and the pinyin dictionaries (region loading)
are likewise loaded by the one command that needs each.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from app.access.roles import STAFF_ROLES
from app.accounts.service import create_staff_account, ensure_admin
from app.config import get_settings
from app.db import make_engine, make_sessionmaker
from app.errors import AppError
from app.imports.cli import add_import_command
from app.matches.commitments import sweep_overdue
from app.observability.logs import configure_logging
from app.retention import sweep


def _with_session(work: Callable[[Session], object]) -> object:
    """Run one unit of work in a transaction that commits on success."""
    factory = make_sessionmaker(make_engine(get_settings().database_url))
    with factory.begin() as session:
        return work(session)


def _password(args: argparse.Namespace) -> str:
    if args.password_env:
        value = os.environ.get(args.password_env)
        if not value:
            sys.exit(f"environment variable {args.password_env} is empty")
        return value
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass("password: ")


def cmd_migrate(args: argparse.Namespace) -> None:
    """Apply database migrations up to head."""
    from app import migrations  # Alembic: only this command needs it

    migrations.upgrade()
    print("database at head")


def cmd_load_reference(args: argparse.Namespace) -> None:
    """Load regions and the product taxonomy."""
    from app.reference import load_reference_data, reference_loaded  # the pinyin dictionaries are large

    def work(session: Session) -> object:
        if args.if_empty and reference_loaded(session):
            return {"skipped": "reference data already loaded"}
        return load_reference_data(session, include_townships=not args.no_townships)

    print(json.dumps(_with_session(work), ensure_ascii=False))


def cmd_create_admin(args: argparse.Namespace) -> None:
    """Create the first admin account (idempotent)."""
    password = _password(args)
    account = _with_session(lambda s: ensure_admin(s, username=args.username, password=password))
    print(f"admin {account.username} (id {account.id})")  # type: ignore[attr-defined]


def cmd_create_account(args: argparse.Namespace) -> None:
    """Create a staff account with a role and jurisdiction."""
    password = _password(args)
    account = _with_session(
        lambda s: create_staff_account(
            s,
            username=args.username,
            password=password,
            role=args.role,
            display_name=args.display_name or args.username,
            jurisdiction_code=args.jurisdiction,
        )
    )
    print(f"{account.role} {account.username} (id {account.id})")  # type: ignore[attr-defined]


def cmd_seed_demo(args: argparse.Namespace) -> None:
    """Load the deterministic demo data set (idempotent)."""
    from app.seed.demo import seed_demo  # the synthetic population needs the matching stack

    print(
        json.dumps(
            _with_session(
                lambda s: seed_demo(
                    s,
                    mentors=args.mentors,
                    newcomers=args.newcomers,
                    seed=args.seed,
                    history=not args.no_history,
                )
            ),
            ensure_ascii=False,
        )
    )


def cmd_worker(args: argparse.Namespace) -> None:
    """Run background jobs (imports, matching runs, retraining) until SIGTERM or Ctrl-C."""
    from app.jobs.handlers import make_worker  # matching runs need the matching stack

    settings = get_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    worker = make_worker(make_sessionmaker(make_engine(settings.database_url)), settings)
    if args.until_idle:
        print(f"ran {worker.run_until_idle()} jobs")
        return
    # Jobs run in a thread so that this (main) thread stays free to handle the signal and the grace period.
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    thread = worker.start_thread()
    while not stop.wait(1.0) and thread.is_alive():
        pass
    finished = worker.shutdown(settings.worker_shutdown_grace_seconds)
    print("worker stopped" if finished else "worker stopped; its job went back to the queue", flush=True)


def cmd_retrain(args: argparse.Namespace) -> None:
    """Fit the learned ranker on all decisions so far and store it as a new version."""
    from app.ranker.service import retrain  # fitting needs the matching stack

    model = _with_session(lambda s: retrain(s, trained_by=None))
    print(json.dumps({"version": model.version, "n_samples": model.n_samples, "metrics": model.metrics}))  # type: ignore[attr-defined]


def cmd_sweep(args: argparse.Namespace) -> None:
    """Flag overdue commitments and send check-in reminders now."""
    print(json.dumps(_with_session(sweep_overdue)))


def cmd_retention_sweep(args: argparse.Namespace) -> None:
    """Purge what is past its retention period (see README, Retention); prints what went."""
    settings = get_settings()
    print(json.dumps(_with_session(lambda s: sweep(s, settings).as_dict())))


def cmd_settings(args: argparse.Namespace) -> None:
    """Print the effective settings, secrets hidden."""
    print(json.dumps(get_settings().redacted(), indent=2, default=str))


def build_parser() -> argparse.ArgumentParser:
    """The command tree."""
    parser = argparse.ArgumentParser(prog="jieduan", description="Jieduan operator commands")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help=cmd_migrate.__doc__).set_defaults(func=cmd_migrate)

    p = sub.add_parser("load-reference", help=cmd_load_reference.__doc__)
    p.add_argument("--if-empty", action="store_true", help="do nothing when regions are already loaded")
    p.add_argument("--no-townships", action="store_true", help="load down to counties only")
    p.set_defaults(func=cmd_load_reference)

    p = sub.add_parser("create-admin", help=cmd_create_admin.__doc__)
    p.add_argument("--username", default="admin")
    p.add_argument("--password-env", help="read the password from this environment variable")
    p.set_defaults(func=cmd_create_admin)

    p = sub.add_parser("create-account", help=cmd_create_account.__doc__)
    p.add_argument("--username", required=True)
    p.add_argument("--role", required=True, choices=[r.value for r in STAFF_ROLES])
    p.add_argument("--jurisdiction", help="region code the account covers")
    p.add_argument("--display-name")
    p.add_argument("--password-env", help="read the password from this environment variable")
    p.set_defaults(func=cmd_create_account)

    p = sub.add_parser("seed-demo", help=cmd_seed_demo.__doc__)
    p.add_argument("--mentors", type=int, default=2_000)
    p.add_argument("--newcomers", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--no-history", action="store_true", help="profiles only: no matches, outcomes or honours")
    p.set_defaults(func=cmd_seed_demo)

    p = sub.add_parser("worker", help=cmd_worker.__doc__)
    p.add_argument("--until-idle", action="store_true", help="exit when no job is left")
    p.set_defaults(func=cmd_worker)

    sub.add_parser("retrain", help=cmd_retrain.__doc__).set_defaults(func=cmd_retrain)
    sub.add_parser("sweep", help=cmd_sweep.__doc__).set_defaults(func=cmd_sweep)
    p = sub.add_parser("retention-sweep", help=cmd_retention_sweep.__doc__)
    p.set_defaults(func=cmd_retention_sweep)
    sub.add_parser("settings", help=cmd_settings.__doc__).set_defaults(func=cmd_settings)
    add_import_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `jieduan` command."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except AppError as exc:
        # A refusal the operator can act on (e.g. too few decisions to retrain): one line, no traceback.
        detail = exc.detail[1] if isinstance(exc.detail, tuple) else exc.detail or exc.code
        sys.exit(f"jieduan {args.command}: {exc.code}: {detail}")
