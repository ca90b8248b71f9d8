"""The web application and HTTP API over the engine and the ledger (``subsidy serve``)."""
from .app import create_app
from .config import WebConfig

__all__ = ["WebConfig", "create_app"]
