"""``kg`` as a thin client of a cluster: with ``KGENTS_GATEWAY_URL`` set, ``kg library
catalog|discover|show`` and ``kg repo list`` read through the gateway's REST API instead of
opening a database of their own.

An unreachable gateway is an error that says what to check and exits non-zero. It never
falls back to a local database: that would answer from other data without saying so.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

import httpx

from gateway.settings import READ_TOKEN_ENV

GATEWAY_URL_ENV = "KGENTS_GATEWAY_URL"
TIMEOUT_S = 10.0


class ClusterUnavailable(RuntimeError):
    """No answer from the gateway at all: wrong URL, no port-forward, Service down."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"cluster unavailable: {url}: {reason}; check {GATEWAY_URL_ENV}, "
            "the gateway Service/port-forward"
        )


class GatewayError(RuntimeError):
    """The gateway answered, with an error (its message included)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def gateway_url() -> str | None:
    """The gateway ``kg`` should talk to, or None to use the local store."""
    url = os.environ.get(GATEWAY_URL_ENV, "").strip()
    return url.rstrip("/") or None


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    return str(detail) if detail is not None else str(body)[:300]


class GatewayClient:
    def __init__(self, url: str, read_token: str | None = None, timeout_s: float = TIMEOUT_S):
        self.url = url.rstrip("/")
        token = read_token if read_token is not None else os.environ.get(READ_TOKEN_ENV)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s)

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.get(path, params=query)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise ClusterUnavailable(self.url, f"not a usable URL ({exc})") from None
        except httpx.TransportError as exc:
            raise ClusterUnavailable(self.url, str(exc) or type(exc).__name__) from None
        if response.status_code == 401:
            raise GatewayError(
                401,
                f"the gateway at {self.url} needs a read token: set {READ_TOKEN_ENV} "
                f"({_detail(response)})",
            )
        if response.is_error:
            raise GatewayError(
                response.status_code,
                f"the gateway at {self.url} answered {response.status_code}: {_detail(response)}",
            )
        return response.json()

    def catalog(self, **filters: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get("/api/library/catalog", filters)
        return found

    def discover(self, query: str, **options: Any) -> dict[str, Any]:
        found: dict[str, Any] = self.get("/api/library/discover", {"q": query, **options})
        return found

    def entry(self, entry_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.get(f"/api/library/entries/{quote(entry_id, safe='')}")
        return found

    def repos(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get("/api/repos")
        return found


def list_repos_via_gateway(url: str) -> list[dict[str, Any]]:
    """``kg repo list`` against a cluster: the repositories as ``GET /api/repos`` lists them
    (``Repository.model_dump(mode="json")`` each). Raises ClusterUnavailable or
    GatewayError; the read token comes from ``$KGENTS_GATEWAY_READ_TOKEN``."""
    with GatewayClient(url) as client:
        return client.repos()
