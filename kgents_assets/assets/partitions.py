"""One partition per repository: the code assets of many repositories in one instance.

A dynamic partition, because repositories come and go at run time (``kg repo add``, the
chart's install hook) without a code change. Not one partition per file: each run costs
seconds, so a run refreshes a whole repository, incrementally inside (DESIGN §2).
"""

from __future__ import annotations

import warnings

from dagster import DagsterInstance, DynamicPartitionsDefinition
from dagster._utils.warnings import PreviewWarning

# Partitioned asset checks (one check result per repository) are "preview" in Dagster
# 1.13 and say so at every definition load: noise a user of `kg` cannot act on.
warnings.filterwarnings(
    "ignore", message=r".*partitions_def on an AssetCheckSpec.*", category=PreviewWarning
)

REPOSITORIES_PARTITION = "repositories"
REPOSITORIES = DynamicPartitionsDefinition(name=REPOSITORIES_PARTITION)

#: run tag Dagster sets on a partitioned run; the run queue limits it to one per value
PARTITION_TAG = "dagster/partition"
SHA_TAG = "kgents/sha"


def ensure_partition(instance: DagsterInstance, name: str) -> None:
    if not instance.has_dynamic_partition(REPOSITORIES_PARTITION, name):
        instance.add_dynamic_partitions(REPOSITORIES_PARTITION, [name])


def drop_partition(instance: DagsterInstance, name: str) -> None:
    if instance.has_dynamic_partition(REPOSITORIES_PARTITION, name):
        instance.delete_dynamic_partition(REPOSITORIES_PARTITION, name)
