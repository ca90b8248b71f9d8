"""What a server is started with, and its data folder: the only place it writes.

The data folder holds ``secret`` (the key that signs session cookies, made once, readable by its owner only),
``uploads/`` (each uploaded facts file or draft policy, under a name the server chooses) and ``tmp/`` (the
temporary files of form parsing). Nothing uploaded is ever executed: facts and policies are read as data.
"""
from __future__ import annotations

import os
import secrets
import tempfile
from dataclasses import dataclass
from typing import Optional, Tuple

DEFAULT_MAX_UPLOAD = 20 * 1024 * 1024


@dataclass(frozen=True)
class WebConfig:
    policy: str  # the policy file served
    data: str  # the data folder
    ledger: Optional[str] = None  # the payout ledger's URL
    users: Optional[str] = None  # the users file; without one the server is read-only
    max_upload: int = DEFAULT_MAX_UPLOAD  # bytes in one request body
    https_only: bool = False  # session cookies marked Secure (behind TLS)
    workers: int = 2  # evaluations run at once, off the event loop
    allowed_hosts: Tuple[str, ...] = ("*",)  # Host headers answered (a loopback server: its loopback names only)

    @property
    def uploads(self) -> str:
        return os.path.join(self.data, "uploads")

    @property
    def tmp(self) -> str:
        return os.path.join(self.data, "tmp")


def prepare_data(config: WebConfig) -> str:
    """Make the data folder and its parts (owner only); the session secret, made on first use."""
    for folder in (config.data, config.uploads, config.tmp):
        os.makedirs(folder, mode=0o700, exist_ok=True)
    path = os.path.join(config.data, "secret")
    if not os.path.exists(path):
        fd, tmp = tempfile.mkstemp(prefix=".secret-", dir=config.data)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    with open(path, encoding="ascii") as fh:
        secret = fh.read().strip()
    if len(secret) < 32:
        raise ValueError(f"{path}: the session secret is too short (delete it to have a new one made)")
    return secret


def new_upload_path(config: WebConfig, extension: str) -> str:
    """A fresh file name in the uploads folder, chosen by the server (an uploaded name is never a path)."""
    return os.path.join(config.uploads, f"{secrets.token_hex(12)}{extension}")
