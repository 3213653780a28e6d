"""Dagster wiring, one module per domain. No domain logic lives here."""
