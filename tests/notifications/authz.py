"""Roles allowed on the notification routes (joined into the authorization matrix)."""

from __future__ import annotations

from tests.authz import EVERYONE, RouteTable

NOTIFICATION_ROUTES: RouteTable = {
    ("GET", "/api/v1/me/notification-preferences"): EVERYONE,
    ("PUT", "/api/v1/me/notification-preferences"): EVERYONE,
}
