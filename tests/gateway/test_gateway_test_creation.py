"""Demo 3 at trust 2 through the real gateway: the hub proposes a test, nothing is written
into the repository until a person approves the semaphore over REST; a rejected one is
never written."""

from __future__ import annotations

import httpx
import pytest
from gateway_testing import TOKEN, Gateway

from gateway.settings import GatewaySettings
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.hub.test_creation import candidates, create_test, settle
from kgents_assets.store import Store

AUTH = {"Authorization": f"Bearer {TOKEN}"}
GEOMETRY = "def area(w, h):\n    return w * h\n\n\ndef volume(w, h, d):\n    return w * h * d\n"


@pytest.mark.slow
def test_trust_2_waits_for_a_person(
    gateway: Gateway, store: Store, settings: GatewaySettings
) -> None:
    root = settings.repo_root / "calc"
    (root / "calc").mkdir(parents=True)
    (root / "calc" / "__init__.py").write_text("")
    (root / "calc" / "geometry.py").write_text(GEOMETRY)
    refresh_repository(store, root, repo="calc")
    with store.connect() as conn:
        area, volume = candidates(conn, "calc")
    proposals = [create_test(store, "calc", root, c, 2) for c in (area, volume)]
    assert [p.outcome for p in proposals] == ["awaiting_human", "awaiting_human"]
    assert not (root / "tests").exists()  # nothing in the repository yet
    assert (root / ".agentfs/tests/test_calc_geometry_area.py").is_file()  # to read
    assert settle(store, "calc", root) == []  # still waiting

    with httpx.Client(base_url=gateway.url) as http:
        pending = http.get("/api/purgatory/daemon/pending").json()
        assert {t["id"] for t in pending} == {p.token_id for p in proposals}
        assert any("calc.geometry.area" in t["reason"] for t in pending)
        approve = http.post(
            f"/api/purgatory/daemon/resolve/{proposals[0].token_id}",
            json={"input": "approve"}, headers=AUTH,
        )  # fmt: skip
        assert approve.status_code == 200, approve.text
        reject = http.post(
            f"/api/purgatory/daemon/resolve/{proposals[1].token_id}",
            json={"input": "reject"}, headers=AUTH,
        )  # fmt: skip
        assert reject.status_code == 200

    settled = {r.pytest_id or r.test_path: r.outcome for r in settle(store, "calc", root)}
    assert settled == {
        "tests/test_calc_geometry_area.py::test_area": "passed",
        "tests/test_calc_geometry_volume.py": "rejected",
    }
    assert (root / "tests/test_calc_geometry_area.py").is_file()
    assert not (root / "tests/test_calc_geometry_volume.py").exists()
    assert settle(store, "calc", root) == []  # each decision carried out once
