"""What a deployment is made of, as data: the Helm chart's values (no Dagster here)."""
