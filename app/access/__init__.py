"""Who may see or change what: the one place the authorization rules live.

Pure of the web layer (no FastAPI), so services, jobs and the CLI use it alike. `Caller` carries who is
asking; `Caller.covers(code)` is the jurisdiction rule in Python and `Caller.scope(column)` the same rule
as a SQL predicate. The object rules live beside it, a module per concern: `profiles`, `matches`,
`imports`. Import those modules directly (this package stays light, so the ORM models can use `roles`).
"""

from app.access.caller import Caller
from app.access.roles import ALL_ROLES, MOBILE_ROLES, STAFF_ROLES, Role

__all__ = ["ALL_ROLES", "MOBILE_ROLES", "STAFF_ROLES", "Caller", "Role"]
