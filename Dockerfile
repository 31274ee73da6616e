# Jieduan API image: migrations run at start, then uvicorn with several workers.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    JIEDUAN_ENV=production \
    JIEDUAN_WORKERS=4

# A CJK font for the honour certificates (PDF), from Debian.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system jieduan && useradd --system --gid jieduan --home-dir /app --shell /usr/sbin/nologin jieduan
WORKDIR /app

# Dependencies first: this layer is rebuilt only when pyproject.toml changes.
COPY pyproject.toml README.md ./
RUN mkdir -p app matching && touch app/__init__.py matching/__init__.py \
    && pip install . \
    && pip uninstall -y jieduan

COPY alembic.ini ./
COPY migrations ./migrations
COPY matching ./matching
COPY app ./app
RUN pip install --no-deps . && chown -R jieduan:jieduan /app

USER jieduan
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"

# JIEDUAN_DATABASE_URL and JIEDUAN_SECRET_KEY must come from the environment (see README).
CMD ["sh", "-c", "jieduan migrate && exec uvicorn --factory app.main:create_app --host 0.0.0.0 --port 8000 --workers ${JIEDUAN_WORKERS} --proxy-headers"]
