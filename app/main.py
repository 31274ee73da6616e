"""Application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline
from sqlalchemy.engine import Engine

from app.accounts.router import router as accounts_router
from app.auth.router import router as auth_router
from app.config import Settings, get_settings
from app.console.setup import front_answer, install_console
from app.db import make_engine, make_sessionmaker
from app.deps import check_public_query
from app.errors import install_error_handlers
from app.feedback.router import router as feedback_router
from app.health.router import router as health_router
from app.honours.router import router as honours_router
from app.imports.router import router as imports_router
from app.jobs.handlers import make_worker
from app.jobs.router import router as jobs_router
from app.matches.router import router as matches_router
from app.middleware import FrontMiddleware
from app.notifications.router import router as notifications_router
from app.observability.logs import configure_logging
from app.observability.metrics import install_metrics
from app.observability.router import router as metrics_router
from app.openapi import install_openapi
from app.outcomes.router import router as outcomes_router
from app.profiles.router import mentors_router, newcomers_router
from app.proposals.router import router as proposals_router
from app.ranker.router import router as ranker_router
from app.recommendations.index import RecommenderCache
from app.recommendations.router import router as recommendations_router
from app.regions.router import router as regions_router
from app.reports.router import router as reports_router
from app.runs.router import router as runs_router
from app.taxonomy.router import router as taxonomy_router

API_ROUTERS = (
    auth_router,
    accounts_router,
    regions_router,
    taxonomy_router,
    mentors_router,
    newcomers_router,
    imports_router,
    runs_router,
    ranker_router,
    proposals_router,
    matches_router,
    recommendations_router,
    notifications_router,
    outcomes_router,
    feedback_router,
    reports_router,
    honours_router,
    jobs_router,
)


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the service: database, routers, error handlers, middleware, background worker."""
    settings = settings or get_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    engine = engine or make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = None
        if settings.run_worker:
            worker = make_worker(app.state.sessionmaker, settings)
            worker.start_thread()
        app.state.worker = worker
        yield
        if worker is not None:
            # Finish the current job within the grace period, or hand its lease back to the queue.
            await asyncio.to_thread(worker.shutdown, settings.worker_shutdown_grace_seconds)
        engine.dispose()

    # /docs and /redoc from assets shipped in an installed package: they work offline, no CDN.
    app = FastAPIOffline(
        static_url="/docs-static",
        title="Jieduan 结对",
        version="0.1.0",
        summary="Cross-regional pairing of rural e-commerce role models with newcomers",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.recommender_cache = RecommenderCache(settings.recommender_refresh_seconds)
    install_error_handlers(app)
    install_openapi(app)
    for router in (health_router, metrics_router):
        app.include_router(router)
    for router in API_ROUTERS:
        # Unknown query parameters and filter values are a 422 on every API route (app/query_params.py).
        app.include_router(router, dependencies=[Depends(check_public_query)])
    install_console(app, settings)
    metrics = install_metrics(app)
    app.state.metrics_registry = metrics.registry
    # One layer outside the routes (and the console's CSRF check): request id, metrics, access log, the
    # 500 guard, read-only transactions, NUL guard, admission and body limits (app/middleware.py).
    app.add_middleware(
        FrontMiddleware,
        limit=settings.max_concurrent_requests,
        write_limit=settings.max_concurrent_writes,
        body_limit=settings.max_json_body_bytes,
        upload_limit=settings.import_max_bytes,
        upload_prefix=("/api/v1/imports", "/console/office/imports"),
        metrics=metrics,
        answer=front_answer,
    )
    return app
