"""Role sets used by the per-domain route tables of the authorization matrix."""

from __future__ import annotations

ROLES = ("admin", "coordinator", "township_office", "mentor", "newcomer")
EVERYONE = frozenset(ROLES)
STAFF = frozenset({"admin", "coordinator", "township_office"})
MOBILE = frozenset({"mentor", "newcomer"})
PUBLIC = "public"

RouteTable = dict[tuple[str, str], frozenset[str] | str]
