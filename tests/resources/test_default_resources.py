"""Secrets and settings from the environment enter the definitions as ``EnvVar``s."""

from __future__ import annotations

import pytest
from dagster import EnvVar

from resources import default_resources


def test_the_llm_key_is_bound_as_an_env_var_never_as_its_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KGENTS_LLM_BASE_URL", "http://localhost:8000/v1")
    monkeypatch.setenv("KGENTS_LLM_MODEL", "functiongemma")
    monkeypatch.setenv("KGENTS_LLM_API_KEY", "sk-never-shown")
    llm = default_resources()["llm"]
    # Unresolved: what the definitions (and so the UI) hold is the variable's name.
    assert isinstance(llm.api_key, EnvVar) and llm.api_key == "KGENTS_LLM_API_KEY"
    assert "sk-never-shown" not in repr(llm)
    # Resolved when a run starts, from the environment of that moment.
    monkeypatch.setenv("KGENTS_LLM_API_KEY", "sk-rotated")
    endpoint = llm.process_config_and_initialize().endpoint()
    assert endpoint is not None and endpoint.api_key == "sk-rotated"


def test_no_llm_variables_means_no_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("KGENTS_LLM_BASE_URL", "KGENTS_LLM_MODEL", "KGENTS_LLM_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    assert default_resources()["llm"].process_config_and_initialize().endpoint() is None


def test_the_database_url_is_bound_as_an_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGENTS_DATABASE_URL", "postgresql://kg:s3cret@db/kgents")
    store = default_resources()["store"]
    assert isinstance(store.database_url, EnvVar)
    assert "s3cret" not in repr(store)
    monkeypatch.delenv("KGENTS_DATABASE_URL")
    assert default_resources()["store"].database_url is None


def test_the_triage_backend_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGENTS_TRIAGE", "llm")
    triage = default_resources()["triage"]
    assert isinstance(triage.backend, EnvVar)
    assert triage.process_config_and_initialize().backend == "llm"
    monkeypatch.delenv("KGENTS_TRIAGE")
    assert default_resources()["triage"].backend == "rules"
