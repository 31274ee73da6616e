"""Settings read from the environment (prefix JIEDUAN_) and an optional .env file."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AnyHttpUrl, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"


# HS256 keys shorter than the hash output are guessable offline from any one token.
MIN_SECRET_BYTES = 32


def _dev_secret(directory: Path = VAR_DIR) -> str:
    """A per-checkout random key, kept in var/ so tokens survive a restart of `make run`."""
    path = directory / "dev-secret.key"
    directory.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        # Created owner-only in the same call that creates it: no moment at which others may read it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


class Settings(BaseSettings):
    """Everything an operator can change; see the configuration table in README.md."""

    model_config = SettingsConfigDict(env_prefix="JIEDUAN_", env_file=".env", extra="ignore")

    env: Literal["dev", "test", "production"] = "dev"
    database_url: str = f"sqlite:///{VAR_DIR / 'jieduan.db'}"
    secret_key: SecretStr | None = None
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=30, ge=1, le=365)
    # Password checks per username per sliding window (failures and successes alike).
    login_max_attempts: int = Field(default=5, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)
    # Requests to the auth routes (token, register, refresh) per client address per window.
    auth_client_max_requests: int = Field(default=60, ge=1)
    auth_client_window_seconds: int = Field(default=60, ge=1)
    # Production runs on PostgreSQL; SQLite there only when an operator says so on purpose.
    allow_sqlite_in_production: bool = False
    # Retention (days): see "Retention" in README.md; the worker's sweep and `jieduan retention-sweep`.
    retain_login_failures_days: int = Field(default=30, ge=1)
    retain_refresh_tokens_days: int = Field(default=7, ge=0)
    retain_idempotency_days: int = Field(default=2, ge=1)
    retain_notifications_days: int = Field(default=180, ge=1)
    retain_finished_jobs_days: int = Field(default=30, ge=1)
    retain_import_personal_data_days: int = Field(default=30, ge=1)
    # How often each worker runs the retention sweep (0 = never; then run `jieduan retention-sweep`).
    retention_sweep_interval_seconds: float = Field(default=3600.0, ge=0)
    max_json_body_bytes: int = Field(default=1_000_000, ge=1_000)
    import_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1_000)
    import_max_rows: int = Field(default=200_000, ge=1)
    import_chunk_rows: int = Field(default=1_000, ge=1)
    # Requests admitted at once (see ConcurrencyLimitMiddleware); keep below 40 threads and the DB pool.
    max_concurrent_requests: int = Field(default=24, ge=2, le=36)
    # Of those, at most this many writing (not GET/HEAD): the rest are kept for reads, which never block.
    max_concurrent_writes: int = Field(default=12, ge=1, le=35)
    # Threads serving the API's short reads (the one-hop GETs: pages, profiles, the review queue). Few:
    # their work holds the GIL, and ten such threads on two cores spend more CPU fighting over it than
    # reading (bench/RESULTS.md, "Read threads"). Other routes keep the framework's pool.
    read_threads: int = Field(default=2, ge=1, le=64)
    # "Mentors for me": how old the index may get before a change to the mentors rebuilds it (README).
    recommender_refresh_seconds: float = Field(default=10.0, ge=0)
    run_worker: bool = True
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    job_lease_seconds: int = Field(default=300, ge=5)
    # Matching runs on a Dask cluster (README "Scaling out"): the scheduler's address, e.g.
    # tcp://10.0.0.5:8786; unset, runs stay in the job worker's process.
    dask_scheduler: str | None = None
    dask_connect_seconds: float = Field(default=30.0, gt=0)
    dask_shard_rows: int = Field(default=32_768, ge=1)  # newcomers per shard task (whole GEMM blocks)
    # Newcomers per GEMM block on a worker: its score buffer is rows x mentors x 4 bytes (0.8 GB at
    # 2048 x 100k); at a million mentors use 256.
    dask_block_rows: int = Field(default=2_048, ge=1)
    # Candidate arcs solved as one min-cost flow; above it, components and regions (see matching.assign).
    # The exact solve adds about 260 B per arc (bench/RESULTS.md, "National runs"): 20M arcs, about 5 GB.
    assign_arc_limit: int = Field(default=20_000_000, ge=1_000)
    # The address people reach the service at (https://jieduan.example.gov.cn), printed on certificates
    # so that paper can be checked; unset, the address the request came to (behind a proxy, run uvicorn
    # with --proxy-headers).
    public_url: AnyHttpUrl | None = None
    log_level: str = "INFO"
    # Operations (see README "Operations"): log lines, metrics access, worker shutdown.
    log_format: Literal["text", "json"] = "text"
    metrics_token: SecretStr | None = None
    worker_shutdown_grace_seconds: float = Field(default=20.0, ge=0)
    # Notification delivery (README "Notifications"). A channel without credentials is off.
    notify_max_attempts: int = Field(default=5, ge=1, le=20)
    notify_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    sms_base_url: str | None = None
    sms_api_key: SecretStr | None = None
    sms_sign_name: str = "结对"
    sms_templates: dict[str, str] = Field(default_factory=dict)  # event kind -> provider template code
    wechat_base_url: str = "https://api.weixin.qq.com"
    wechat_app_id: str | None = None
    wechat_app_secret: SecretStr | None = None
    wechat_templates: dict[str, str] = Field(default_factory=dict)  # event kind -> subscribe template id
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = "jieduan@localhost"

    @model_validator(mode="after")
    def _reads_keep_admissions(self) -> Settings:
        if self.max_concurrent_writes >= self.max_concurrent_requests:
            raise ValueError("JIEDUAN_MAX_CONCURRENT_WRITES must be below JIEDUAN_MAX_CONCURRENT_REQUESTS")
        return self

    @model_validator(mode="after")
    def _production_guards(self) -> Settings:
        key = self.secret_key.get_secret_value() if self.secret_key is not None else ""
        if self.env == "production":
            if len(key.encode()) < MIN_SECRET_BYTES:
                raise ValueError(
                    f"JIEDUAN_SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes in production"
                )
            if self.database_url.startswith("sqlite") and not self.allow_sqlite_in_production:
                raise ValueError(
                    "production needs PostgreSQL (or JIEDUAN_ALLOW_SQLITE_IN_PRODUCTION=true for SQLite)"
                )
        elif not key.strip():
            # An empty key would sign tokens anyone can forge; outside production use the dev key file.
            self.secret_key = SecretStr(_dev_secret())
        return self

    def redacted(self) -> dict[str, object]:
        """Effective settings with secrets hidden, for `jieduan settings`."""
        data = self.model_dump()
        data["secret_key"] = "***"  # noqa: S105 - a redaction marker
        for name in ("metrics_token", "sms_api_key", "wechat_app_secret", "smtp_password"):
            if data.get(name) is not None:
                data[name] = "***"
        if "@" in self.database_url:
            scheme, _, rest = self.database_url.partition("://")
            data["database_url"] = f"{scheme}://***@{rest.rpartition('@')[2]}"
        return data


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
