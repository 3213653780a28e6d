"""The terrarium gateway: FastAPI app that mirrors flux agents to browsers and lets
authenticated people steer them. ``create_app`` builds it; ``kg gateway`` serves it."""

from gateway.app import create_app
from gateway.settings import GatewaySettings

__all__ = ["GatewaySettings", "create_app"]
