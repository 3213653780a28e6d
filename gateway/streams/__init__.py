"""Shared streams: gateway replicas share their agents' event streams through PostgreSQL
(LISTEN/NOTIFY and the ``gateway_events`` table). The decision is explained in
``gateway/streams/replica.py``."""

from gateway.streams.mirror import SharedMirror
from gateway.streams.replica import StreamReplica

__all__ = ["SharedMirror", "StreamReplica"]
