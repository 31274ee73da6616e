"""Delivery channels behind one small interface: SMS (provider templates), WeChat subscribe messages, e-mail.

A channel raises `Retryable` for a provider that may succeed later (timeout, 5xx, throttling) and
`Rejected` for an answer that will never change (unknown template, refused recipient): the message
goes to the dead letters at once. Each `send` carries the outbox row's idempotency key.
"""

from __future__ import annotations

import smtplib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import httpx

from app.config import Settings


class DeliveryError(Exception):
    """The provider did not take the message."""


class Retryable(DeliveryError):
    """Try again later (timeout, connection error, 5xx, throttling)."""


class Rejected(DeliveryError):
    """Never retry: the provider refused this message as it is (template, recipient, content)."""


@dataclass(frozen=True, slots=True)
class Message:
    """What a channel sends: an event of a kind, its parameters, to one recipient address."""

    recipient: str
    kind: str
    params: Mapping[str, str]
    idempotency_key: str


class Channel(Protocol):
    """Sends one message; returns the provider's message id."""

    name: str

    def send(self, message: Message) -> str:
        """Deliver or raise Retryable / Rejected."""
        ...


def _post(client: httpx.Client, url: str, **kwargs: object) -> httpx.Response:
    try:
        response = client.post(url, **kwargs)  # type: ignore[arg-type]
    except httpx.TimeoutException as exc:
        raise Retryable(f"timeout: {exc}") from exc
    except httpx.TransportError as exc:
        raise Retryable(f"connection error: {exc}") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise Retryable(f"provider answered {response.status_code}")
    return response


class SmsChannel:
    """An SMS gateway with template codes (the shape of the big Chinese providers' HTTP APIs).

    POST {base}/sms/send {phone, sign_name, template_code, params, out_id}; `out_id` is our idempotency
    key, which the provider uses to drop a resend of the same message.
    """

    name = "sms"

    def __init__(
        self, *, base_url: str, api_key: str, sign_name: str, templates: Mapping[str, str], timeout: float
    ):
        self._client = httpx.Client(
            base_url=base_url, timeout=timeout, headers={"Authorization": f"Bearer {api_key}"}
        )
        self._sign_name = sign_name
        self._templates = dict(templates)

    def send(self, message: Message) -> str:
        """Send through the provider's template for this event kind."""
        template = self._templates.get(message.kind)
        if template is None:
            raise Rejected(f"no SMS template configured for {message.kind}")
        response = _post(
            self._client,
            "/sms/send",
            json={
                "phone": message.recipient,
                "sign_name": self._sign_name,
                "template_code": template,
                "params": dict(message.params),
                "out_id": message.idempotency_key,
            },
        )
        body = _json(response)
        if response.status_code >= 400 or body.get("code") != "OK":
            raise Rejected(f"SMS provider refused: {body.get('code')} {body.get('message', '')}".strip())
        return str(body.get("message_id", ""))


class WeChatChannel:
    """WeChat subscribe messages (订阅消息) through the plain HTTP API, with a cached access token."""

    name = "wechat"
    # errcodes that a retry cannot fix: bad template or data, user has not subscribed, invalid openid.
    _PERMANENT = frozenset({40003, 40037, 43101, 47003})

    def __init__(
        self, *, base_url: str, app_id: str, app_secret: str, templates: Mapping[str, str], timeout: float
    ):
        self._client = httpx.Client(base_url=base_url, timeout=timeout)
        self._app_id, self._app_secret = app_id, app_secret
        self._templates = dict(templates)
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def _access_token(self) -> str:
        with self._lock:
            if self._token is None or self._token[1] < time.monotonic():
                try:
                    response = self._client.get(
                        "/cgi-bin/token",
                        params={
                            "grant_type": "client_credential",
                            "appid": self._app_id,
                            "secret": self._app_secret,
                        },
                    )
                except httpx.HTTPError as exc:
                    raise Retryable(f"access token: {exc}") from exc
                body = _json(response)
                if "access_token" not in body:
                    raise Retryable(f"access token refused: {body.get('errcode')}")
                # Renew a little early: tokens last 7200 s.
                self._token = (
                    str(body["access_token"]),
                    time.monotonic() + int(body.get("expires_in", 7200)) - 300,
                )
            return self._token[0]

    def send(self, message: Message) -> str:
        """Send the subscribe template for this event kind to the openid."""
        template = self._templates.get(message.kind)
        if template is None:
            raise Rejected(f"no WeChat template configured for {message.kind}")
        response = _post(
            self._client,
            "/cgi-bin/message/subscribe/send",
            params={"access_token": self._access_token()},
            json={
                "touser": message.recipient,
                "template_id": template,
                "data": {key: {"value": value} for key, value in message.params.items()},
            },
        )
        body = _json(response)
        errcode = int(body.get("errcode", -1))
        if errcode == 0:
            return str(body.get("msgid", ""))
        if errcode in (40001, 42001):  # token expired early: fetch a new one next time
            self._token = None
            raise Retryable(f"access token expired ({errcode})")
        if errcode in self._PERMANENT or response.status_code >= 400:
            raise Rejected(f"WeChat refused: {errcode} {body.get('errmsg', '')}".strip())
        raise Retryable(f"WeChat error {errcode}")


class EmailChannel:
    """Plain e-mail for staff accounts, over SMTP with STARTTLS when the server offers it."""

    name = "email"

    def __init__(
        self, *, host: str, port: int, username: str | None, password: str | None, sender: str, timeout: float
    ):
        self._host, self._port, self._timeout = host, port, timeout
        self._username, self._password, self._sender = username, password, sender

    def send(self, message: Message) -> str:
        """One mail per event; the idempotency key is its Message-ID, so mail clients fold duplicates."""
        mail = EmailMessage()
        mail["From"], mail["To"] = self._sender, message.recipient
        mail["Subject"] = f"[结对 Jieduan] {message.kind}"
        mail["Message-ID"] = f"<{message.idempotency_key}@jieduan>"
        mail.set_content("\n".join(f"{k}: {v}" for k, v in message.params.items()) or message.kind)
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls()
                if self._username and self._password:
                    smtp.login(self._username, self._password)
                refused = smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            raise Rejected(f"recipient refused: {exc}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise Retryable(f"SMTP: {exc}") from exc
        if refused:
            raise Rejected(f"recipient refused: {refused}")
        return message.idempotency_key


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def channels_from_settings(settings: Settings) -> dict[str, Channel]:
    """The channels whose credentials are set; a channel without them is off."""
    channels: dict[str, Channel] = {}
    timeout = settings.notify_timeout_seconds
    if settings.sms_base_url and settings.sms_api_key:
        channels["sms"] = SmsChannel(
            base_url=settings.sms_base_url,
            api_key=settings.sms_api_key.get_secret_value(),
            sign_name=settings.sms_sign_name,
            templates=settings.sms_templates,
            timeout=timeout,
        )
    if settings.wechat_app_id and settings.wechat_app_secret:
        channels["wechat"] = WeChatChannel(
            base_url=settings.wechat_base_url,
            app_id=settings.wechat_app_id,
            app_secret=settings.wechat_app_secret.get_secret_value(),
            templates=settings.wechat_templates,
            timeout=timeout,
        )
    if settings.smtp_host:
        channels["email"] = EmailChannel(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            sender=settings.smtp_sender,
            timeout=timeout,
        )
    return channels
