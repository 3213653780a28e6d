"""The shared-secret check. Constant-time, and the token never reaches a log line."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from fastapi import HTTPException, Request, status
from pydantic import SecretStr

from gateway.settings import GatewaySettings


def token_matches(configured: SecretStr | None, presented: str | None) -> bool:
    if configured is None or not presented:
        return False
    return hmac.compare_digest(
        configured.get_secret_value().encode(), presented.encode("utf-8", "surrogateescape")
    )


def bearer_token(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def require_token(request: Request) -> None:
    """FastAPI dependency for the REST actions that steer an agent."""
    configured: SecretStr | None = request.app.state.settings.token
    if configured is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "steering is disabled: the gateway has no KGENTS_GATEWAY_TOKEN configured",
        )
    if not token_matches(configured, bearer_token(request.headers)):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or invalid bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )


def read_allowed(settings: GatewaySettings, presented: str | None) -> bool:
    """Reads are open without a read token; with one, it (or the steering token) is needed."""
    if settings.read_token is None:
        return True
    return token_matches(settings.read_token, presented) or token_matches(settings.token, presented)


async def require_read_token(request: Request) -> None:
    """FastAPI dependency of every REST route that shows data (not the probes)."""
    settings: GatewaySettings = request.app.state.settings
    if not read_allowed(settings, bearer_token(request.headers)):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or invalid bearer token (this gateway requires KGENTS_GATEWAY_READ_TOKEN)",
            headers={"WWW-Authenticate": "Bearer"},
        )
