"""Notifications reach people: outbox in the event's transaction, retries, dead letters, no duplicates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from app.db import china_today, utcnow
from app.jobs.handlers import HANDLERS
from app.jobs.worker import Worker
from app.models import Job, NotificationOutbox, NotificationPreference
from app.notifications.channels import Message, channels_from_settings
from app.notifications.delivery import JOB_KIND, deliver, quiet_until
from app.notifications.service import notify
from tests.notifications.fake_provider import FakeProvider, fake_provider

SMS = "/sms/send"
WECHAT = "/cgi-bin/message/subscribe/send"


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with fake_provider() as fake:
        yield fake


@pytest.fixture
def channel_settings(settings, provider):
    return settings.model_copy(
        update={
            "sms_base_url": provider.url,
            "sms_api_key": SecretStr("sms-key"),
            "sms_templates": {"match_active": "SMS_0001", "check_in_due": "SMS_0002"},
            "wechat_base_url": provider.url,
            "wechat_app_id": "wx-app",
            "wechat_app_secret": SecretStr("wx-secret"),
            "wechat_templates": {"match_active": "TPL-match"},
            "notify_timeout_seconds": 0.5,
            "notify_max_attempts": 3,
        }
    )


@pytest.fixture
def run_jobs(session_factory, channel_settings, db):
    worker = Worker(session_factory, HANDLERS, settings=channel_settings)

    def _run() -> int:
        # Skip the back-off: every queued job is due now.
        db.execute(
            update(Job).where(Job.status == "queued").values(run_after=utcnow() - timedelta(seconds=1))
        )
        db.commit()
        return worker.run_until_idle()

    return _run


def _outbox(db) -> list[NotificationOutbox]:
    db.expire_all()
    return list(db.scalars(select(NotificationOutbox).order_by(NotificationOutbox.id)))


def _event(db, user, kind: str = "match_active") -> NotificationOutbox:
    notify(db, user.id, kind, {"match_id": 41})
    db.commit()
    return _outbox(db)[-1]


def test_outbox_row_and_job_are_written_with_the_event(db, make_user):
    newcomer = make_user("newcomer")
    savepoint = db.begin_nested()
    notify(db, newcomer.id, "match_active", {"match_id": 1})
    savepoint.rollback()  # the event's transaction rolls back: nothing may be sent
    assert _outbox(db) == []
    row = _event(db, newcomer)
    assert row.channel == "sms" and row.recipient == newcomer.username and row.status == "pending"
    assert db.scalar(select(Job).where(Job.kind == JOB_KIND, Job.ref_id == row.id)) is not None


def test_sms_is_delivered_with_its_template_code(db, make_user, provider, run_jobs):
    newcomer = make_user("newcomer")
    row = _event(db, newcomer)
    run_jobs()
    [sent] = provider.sends(SMS)
    assert sent["body"]["template_code"] == "SMS_0001" and sent["body"]["phone"] == newcomer.username
    assert sent["body"]["params"] == {"match_id": "41"} and sent["authorization"] == "Bearer sms-key"
    assert sent["body"]["out_id"] == row.idempotency_key
    assert (
        _outbox(db)[-1].status == "sent"
        and _outbox(db)[-1].provider_message_id == f"sms-{row.idempotency_key}"
    )


def test_a_provider_that_times_out_is_retried(db, make_user, provider, run_jobs):
    provider.script[SMS] = ["timeout"]
    _event(db, make_user("newcomer"))
    run_jobs()
    row = _outbox(db)[-1]
    assert row.status == "pending" and row.attempts == 1 and "timeout" in row.last_error
    job = db.scalar(select(Job).where(Job.kind == JOB_KIND, Job.ref_id == row.id))
    assert job.status == "queued" and job.run_after > utcnow()  # backing off
    run_jobs()
    assert _outbox(db)[-1].status == "sent" and len(provider.delivered) == 1


def test_5xx_then_success(db, make_user, provider, run_jobs):
    provider.script[SMS] = ["500"]
    _event(db, make_user("newcomer"))
    run_jobs()
    assert _outbox(db)[-1].status == "pending"
    run_jobs()
    row = _outbox(db)[-1]
    assert row.status == "sent" and row.attempts == 2
    assert len(provider.sends(SMS)) == 2 and len(provider.delivered) == 1


def test_a_rejected_template_is_a_dead_letter_at_once(db, make_user, provider, run_jobs):
    provider.script[SMS] = ["reject"]
    _event(db, make_user("newcomer"))
    run_jobs()
    run_jobs()
    row = _outbox(db)[-1]
    assert row.status == "dead" and "SMS_TEMPLATE_ILLEGAL" in row.last_error and row.attempts == 1
    assert len(provider.sends(SMS)) == 1 and provider.delivered == []


def test_dead_letter_after_n_attempts(db, make_user, provider, run_jobs):
    provider.script[SMS] = ["500"] * 10
    _event(db, make_user("newcomer"))
    for _ in range(5):
        run_jobs()
    row = _outbox(db)[-1]
    assert row.status == "dead" and row.attempts == 3 and "gave up after 3 attempts" in row.last_error
    assert len(provider.sends(SMS)) == 3


class _DiesAfterSending:
    """The worker process dies after the provider took the message, before the outbox row is marked."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name

    def send(self, message: Message) -> str:
        self.inner.send(message)
        raise SystemExit("worker killed")


@pytest.mark.parametrize("channel", ["sms", "wechat"])
def test_nothing_is_sent_twice_when_a_worker_dies_after_sending(
    channel, db, make_user, provider, run_jobs, channel_settings, session_factory
):
    user = make_user("newcomer")
    if channel == "wechat":
        db.add(
            NotificationPreference(account_id=user.id, channel="wechat", wechat_openid="o-openid", events=[])
        )
        db.commit()
    row = _event(db, user)
    real = channels_from_settings(channel_settings)
    dying = {channel: _DiesAfterSending(real[channel])}
    with pytest.raises(SystemExit):
        deliver(session_factory, row.id, channels=dying, max_attempts=3)
    assert _outbox(db)[-1].status == "sending" and len(provider.delivered) == 1
    run_jobs()  # another worker picks the message up
    run_jobs()
    assert len(provider.delivered) == 1
    final = _outbox(db)[-1]
    if channel == "sms":  # resent with the same out_id; the provider acknowledged without delivering again
        assert final.status == "sent" and len(provider.sends(SMS)) == 2
        assert {r["body"]["out_id"] for r in provider.sends(SMS)} == {row.idempotency_key}
    else:  # WeChat cannot recognise a resend: not resent, and the reason is recorded
        assert (
            final.status == "dead" and "not resent" in final.last_error and len(provider.sends(WECHAT)) == 1
        )


def test_wechat_subscribe_message(db, make_user, provider, run_jobs):
    user = make_user("mentor")
    db.add(NotificationPreference(account_id=user.id, channel="wechat", wechat_openid="o-123", events=[]))
    db.commit()
    _event(db, user)
    run_jobs()
    [sent] = provider.sends(WECHAT)
    assert sent["query"]["access_token"] == ["fake-token"]
    assert sent["body"] == {
        "touser": "o-123",
        "template_id": "TPL-match",
        "data": {"match_id": {"value": "41"}},
    }
    assert _outbox(db)[-1].status == "sent"


def test_a_channel_without_credentials_is_off(db, make_user, provider, session_factory, settings):
    _event(db, make_user("newcomer"))
    Worker(session_factory, HANDLERS, settings=settings).run_until_idle()
    row = _outbox(db)[-1]
    assert row.status == "skipped" and "no credentials" in row.last_error and provider.received == []


def test_preferences_filter_events(db, make_user):
    user = make_user("newcomer")
    db.add(NotificationPreference(account_id=user.id, channel="sms", events=["check_in_due"]))
    db.commit()
    notify(db, user.id, "match_active", {"match_id": 1})
    assert _outbox(db) == []
    notify(db, user.id, "check_in_due", {"commitment_id": 1})
    assert [r.kind for r in _outbox(db)] == ["check_in_due"]


def test_quiet_hours_are_china_time():
    # 23:30 in Beijing is 15:30 UTC; quiet 22:00-07:00 ends at 07:00 Beijing = 23:00 UTC.
    now = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)
    assert quiet_until(now, "22:00", "07:00") == datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    # 08:30 Beijing (00:30 UTC): outside the window.
    assert quiet_until(datetime(2026, 12, 2, 0, 30, tzinfo=UTC), "22:00", "07:00") is None
    # A daytime window (12:00-14:00) at 13:00 Beijing.
    assert quiet_until(datetime(2026, 12, 2, 5, 0, tzinfo=UTC), "12:00", "14:00") == datetime(
        2026, 12, 2, 6, 0, tzinfo=UTC
    )
    assert quiet_until(now, None, None) is None


def test_a_message_in_quiet_hours_waits(db, make_user):
    user = make_user("newcomer")
    # The whole day but one minute is quiet: whenever the test runs, it is quiet now (or for a minute).
    start = (utcnow() + timedelta(hours=8) - timedelta(minutes=1)).strftime("%H:%M")
    end = (utcnow() + timedelta(hours=8) - timedelta(minutes=2)).strftime("%H:%M")
    db.add(
        NotificationPreference(account_id=user.id, channel="sms", events=[], quiet_start=start, quiet_end=end)
    )
    db.commit()
    row = _event(db, user)
    job = db.scalar(select(Job).where(Job.kind == JOB_KIND, Job.ref_id == row.id))
    assert row.not_before > utcnow() + timedelta(hours=23) and job.run_after == row.not_before


def test_today_is_a_beijing_day():
    # 16:30 UTC on 1 December is 00:30 on 2 December in Beijing: check-ins due on the 2nd are due today.
    assert china_today(datetime(2026, 12, 1, 16, 30, tzinfo=UTC)).isoformat() == "2026-12-02"
    assert china_today(datetime(2026, 12, 1, 15, 59, tzinfo=UTC)).isoformat() == "2026-12-01"


class TestPreferencesApi:
    def test_defaults_then_update(self, client, make_user):
        user = make_user("newcomer")
        r = client.get("/api/v1/me/notification-preferences", headers=user.headers)
        assert r.status_code == 200 and r.json()["channel"] == "sms" and r.json()["events"] == []
        body = {"channel": "wechat", "wechat_openid": "o-9", "events": ["check_in_due"]}
        body |= {"quiet_start": "22:00", "quiet_end": "07:00"}
        r = client.put("/api/v1/me/notification-preferences", json=body, headers=user.headers)
        assert r.status_code == 200 and r.json()["channel"] == "wechat" and r.json()["quiet_end"] == "07:00"
        assert client.get("/api/v1/me/notification-preferences", headers=user.headers).json() == r.json()

    @pytest.mark.parametrize(
        "body",
        [
            {"channel": "wechat"},
            {"channel": "email"},
            {"events": ["flower_delivered"]},
            {"quiet_start": "22:00"},
            {"quiet_start": "25:00", "quiet_end": "07:00"},
            {"channel": "fax"},
            {"unknown_field": 1},
            # The rules every request body keeps (this one was a plain model without them).
            {"wechat_openid": "o-\x009"},
            {"channel": "wechat", "wechat_openid": "\u200b"},
            {"channel": "email", "email": "a@b"},
            {"quiet_start": "22:00", "quiet_end": "22:00"},
        ],
    )
    def test_bad_bodies_are_422(self, client, make_user, body):
        user = make_user("newcomer")
        r = client.put("/api/v1/me/notification-preferences", json=body, headers=user.headers)
        assert r.status_code == 422, r.text

    def test_an_event_named_twice_is_kept_once(self, client, make_user):
        user = make_user("newcomer")
        body = {"events": ["check_in_due", "match_active", "check_in_due"], "email": " ana@example.cn "}
        r = client.put("/api/v1/me/notification-preferences", json=body, headers=user.headers)
        assert r.status_code == 200, r.text
        assert (
            r.json()["events"] == ["check_in_due", "match_active"] and r.json()["email"] == "ana@example.cn"
        )

    def test_sms_needs_a_phone(self, client, make_user):
        staff = make_user("coordinator", "32")
        r = client.put("/api/v1/me/notification-preferences", json={"channel": "sms"}, headers=staff.headers)
        assert r.status_code == 422 and r.json()["code"] == "no_phone_for_sms"
