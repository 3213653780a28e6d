# syntax=docker/dockerfile:1.7
# One image for every kgents component (webserver, daemon, code server, gateway,
# migration Job) and for every run Job K8sRunLauncher starts. helm/README.md lists the
# layers and why they are ordered this way.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: resolve and install into /app/.venv; nothing of this stage ships but the venv
FROM ghcr.io/astral-sh/uv:0.13.9 AS uv
FROM ${PYTHON_IMAGE} AS builder
COPY --from=uv /uv /usr/local/bin/uv
# The interpreter of the base image, never a downloaded one: the venv's python symlink must
# point at the same /usr/local/bin/python3.11 in the final stage. Bytecode is compiled here
# because the final root filesystem is read-only (no __pycache__ can be written there).
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first, from the lock alone: this layer is rebuilt only when uv.lock or
# pyproject.toml change, not on every source edit.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --no-install-project
# Then the project itself, installed as a wheel (not editable): the final stage needs no
# source tree, only site-packages.
COPY kgents_assets ./kgents_assets
COPY sensors ./sensors
COPY resources ./resources
COPY gateway ./gateway
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

# --- final: the interpreter, git, the venv, the fixtures; no compiler, no uv, no caches
FROM ${PYTHON_IMAGE}
# git: repositories given by URL are cloned by run Jobs and polled by the git sensor.
# openssh-client: for ssh:// and git@ remotes. ca-certificates: for https remotes.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*
# A fixed non-root uid: the chart's securityContext runs as 10001 (runAsNonRoot needs a
# numeric USER to verify it without starting the container).
RUN groupadd --system --gid 10001 kgents \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/kgents --no-create-home kgents \
    && mkdir -p /opt/dagster/dagster_home /opt/dagster/app /var/lib/kgents/workspace \
    && chown -R 10001:10001 /opt/dagster /var/lib/kgents
COPY --from=builder /app/.venv /app/.venv
# HotData fixtures are data, not a package: the wheel does not carry them.
COPY fixtures /app/fixtures
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    KGENTS_HOME=/var/lib/kgents \
    KGENTS_WORKSPACE=/var/lib/kgents/workspace \
    KGENTS_FIXTURES_DIR=/app/fixtures \
    HOME=/var/lib/kgents
WORKDIR /app
USER 10001:10001
# Each component's Deployment names its command; this default serves the gateway.
CMD ["kg", "gateway", "--host", "0.0.0.0", "--port", "8765", "--repo", "/app"]
