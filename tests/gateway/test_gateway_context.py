"""``GET /api/context`` on the real server over a real model: fresh, missing, and a store
that went away, all answered with a blob (never an error) and traced."""

from __future__ import annotations

import httpx
from gateway_testing import Gateway

from gateway.settings import GatewaySettings
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.store import Store

GEOMETRY = 'def area(w, h):\n    """Area of a rectangle."""\n    return scale(w) * h\n\n\n'
GEOMETRY += "def scale(x):\n    return x\n"


def test_context_over_rest(gateway: Gateway, store: Store, settings: GatewaySettings) -> None:
    root = settings.repo_root / "calc"
    (root / "calc").mkdir(parents=True)
    (root / "calc" / "__init__.py").write_text("")
    (root / "calc" / "geometry.py").write_text(GEOMETRY)
    refresh_repository(store, root, repo="calc")
    with httpx.Client(base_url=gateway.url) as http:
        blob = http.get("/api/context", params={"repo": "calc", "target": "area"}).json()
        assert blob["freshness_status"] == "fresh" and blob["signature"] == "def area(w, h)"
        assert [c["full_name"] for c in blob["callees"]] == ["calc.geometry.scale"]
        assert blob["hub_state_key"] == f"node:{blob['node_id']}:state"

        by_line = http.get("/api/context", params={"repo": "calc", "target": "calc/geometry.py:7"})
        assert by_line.status_code == 200 and by_line.json()["full_name"] == "calc.geometry.scale"

        miss = http.get("/api/context", params={"target": "volume"})
        assert miss.status_code == 200 and miss.json()["freshness_status"] == "missing"
        assert miss.json()["warning"].startswith("No hub context for 'volume'")
        assert http.get("/api/context").status_code == 422  # no target: a request error

        gone = Store(url="postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
        gateway.call(lambda: setattr(gateway.app.state, "store", gone))
        down = http.get("/api/context", params={"repo": "calc", "target": "area"})
        assert down.status_code == 200 and down.json()["freshness_status"] == "missing"
        assert "the hub is down" in down.json()["freshness_reason"]
    with store.connect() as conn:
        rows = conn.execute(
            "SELECT surface, freshness FROM hub_context_traces ORDER BY id"
        ).fetchall()
    assert rows == [("rest", "fresh"), ("rest", "fresh"), ("rest", "missing")]
