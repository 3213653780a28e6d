"""Websocket close codes the gateway uses, in one place so clients and tests agree."""

from __future__ import annotations

from enum import IntEnum


class CloseCode(IntEnum):
    NORMAL = 1000
    MESSAGE_TOO_BIG = 1009  # RFC 6455
    TRY_AGAIN_LATER = 1013  # RFC 6455: too many observers right now
    # Resumable: the observer could not keep up and was dropped; the close reason says
    # "resume with since=N" and reconnecting with ?since=N continues without a gap.
    OBSERVER_TOO_SLOW = 4008
    UNAUTHENTICATED = 4401
    FORBIDDEN = 4403
    UNKNOWN_AGENT = 4404
    QUEUE_FULL = 4429
