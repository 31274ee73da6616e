"""The console's page routers, one per domain (templates live in a folder of the same name)."""

from app.console.routers import admin, auth, flows, home, honours, imports, matches, reports, review, runs

ROUTERS = (
    auth.router,
    home.router,
    review.router,
    runs.router,
    matches.router,
    flows.router,
    reports.router,
    honours.router,
    imports.router,
    admin.router,
)
