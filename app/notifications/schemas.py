"""Notification preference bodies."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from app.schemas import Input, Output, refusal

HourMinute = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["22:00"])]
EventKind = Literal[
    "proposal_approved", "match_active", "match_declined", "match_ended", "check_in_due", "check_in_overdue"
]


class PreferenceUpdate(Input):
    """Which events reach you, on which channel, and your quiet hours (China Standard Time)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "channel": "sms",
                    "events": ["match_active", "check_in_due"],
                    "quiet_start": "21:30",
                    "quiet_end": "07:00",
                }
            ]
        },
    )

    channel: Literal["sms", "wechat", "email"] | None = Field(
        default=None, description="Where messages go; null keeps the in-app feed only"
    )
    events: list[EventKind] = Field(default_factory=list, description="Events to deliver; empty means all")
    quiet_start: HourMinute | None = Field(
        default=None, description="Start of quiet hours, HH:MM Beijing time"
    )
    quiet_end: HourMinute | None = Field(default=None, description="End of quiet hours, HH:MM Beijing time")
    wechat_openid: str | None = Field(default=None, max_length=64, description="Your openid for this app")
    email: str | None = Field(
        default=None,
        max_length=254,
        # A dot in the domain: a@b is no address mail reaches.
        pattern=r"^[^@\s\x00]+@[^@\s\x00.]+(\.[^@\s\x00.]+)+$",
        description="Where e-mail goes (channel email; staff)",
    )

    @field_validator("events")
    @classmethod
    def _each_event_once(cls, events: list[str]) -> list[str]:
        # One event named twice is still one event: stored once, in the order first given.
        return list(dict.fromkeys(events))

    @field_validator("wechat_openid", "email")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        # After the invisible marks are dropped, an openid of only those is no openid.
        return value or None

    @model_validator(mode="after")
    def _address_for_the_channel(self) -> PreferenceUpdate:
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise refusal("免打扰的开始和结束时间须同时填写", "quiet_start and quiet_end go together")
        if self.quiet_start is not None and self.quiet_start == self.quiet_end:
            raise refusal(
                "免打扰的开始和结束时间不能相同", "quiet hours that start when they end are no quiet hours"
            )
        if self.channel == "wechat" and not self.wechat_openid:
            raise refusal("选择微信通知须填写 wechat_openid", "channel wechat needs wechat_openid")
        if self.channel == "email" and not self.email:
            raise refusal("选择邮件通知须填写邮箱", "channel email needs email")
        return self


class PreferenceRead(Output):
    """Your delivery preferences (defaults when never set: SMS to a mobile user's phone, all events)."""

    channel: str | None
    """sms, wechat, email, or null (the feed only)"""
    events: list[str]
    """Events delivered; empty means all"""
    quiet_start: str | None
    """Start of quiet hours (HH:MM Beijing time)"""
    quiet_end: str | None
    """End of quiet hours"""
    wechat_openid: str | None
    """Your openid for WeChat messages"""
    email: str | None
    """Where e-mail goes"""
