"""Who may use the web application: a users file of names, password hashes (Argon2id), roles and counties.

The file is JSON, written by ``subsidy users add``::

    {"users": {"clerk1": {"hash": "$argon2id$…", "role": "clerk", "counties": ["…"]}}}

Roles, each including the one before it: ``viewer`` reads (policy, evaluations, the ledger's runs and report);
``clerk`` also evaluates uploads and records runs, for the workshops of the counties listed (none listed: none);
``admin`` does all that for every county. A password is never stored, only its Argon2id hash (argon2-cffi).
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..problems import InputFault

ROLES = ("viewer", "clerk", "admin")
_HASHER = PasswordHasher()
# checked against when a name is unknown, so a wrong name takes as long as a wrong password
_DUMMY = _HASHER.hash("not a password anyone has")


class UsersFileError(InputFault):
    """The users file cannot be read or does not hold users."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    counties: Tuple[str, ...]

    def may(self, role: str) -> bool:
        """Whether this user holds ``role`` or a higher one."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def may_record_for(self, county: Optional[str]) -> bool:
        if self.role == "admin":
            return True
        return self.role == "clerk" and county is not None and county in self.counties


def read_users(path: str) -> Dict[str, dict]:
    """The users of ``path`` (name -> entry); UsersFileError naming what is wrong."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise UsersFileError(f"{path}: no such users file (make one with: subsidy users add {path} NAME --role clerk)") from None
    except (OSError, ValueError) as exc:
        raise UsersFileError(f"{path}: not a users file: {exc}") from None
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, dict):
        raise UsersFileError(f"{path}: a users file is a JSON object with a `users` object")
    for name, entry in users.items():
        if not (isinstance(entry, dict) and isinstance(entry.get("hash"), str) and entry.get("role") in ROLES
                and isinstance(entry.get("counties", []), list)):
            raise UsersFileError(f"{path}: user {name!r} needs a `hash`, a `role` ({', '.join(ROLES)}) and a list of "
                                 "`counties`")
    return users


def add_user(path: str, name: str, password: str, role: str, counties: Tuple[str, ...]) -> bool:
    """Add ``name`` to the users file at ``path`` (created if missing, readable by its owner only), or replace its
    entry. True if the name was new."""
    if role not in ROLES:
        raise UsersFileError(f"role {role!r} is not one of {', '.join(ROLES)}")
    users = read_users(path) if os.path.exists(path) else {}
    new = name not in users
    users[name] = {"hash": _HASHER.hash(password), "role": role, "counties": list(counties)}
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".users-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"users": users}, fh, ensure_ascii=False, indent=2, sort_keys=True)
            fh.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return new


class Users:
    """The users file, read when the server starts."""

    def __init__(self, path: str):
        self.path = path
        self._users = read_users(path)

    def get(self, name: str) -> Optional[User]:
        entry = self._users.get(name)
        if entry is None:
            return None
        return User(name, entry["role"], tuple(entry.get("counties") or ()))

    def check(self, name: str, password: str) -> Optional[User]:
        """The user, if ``password`` is theirs; None otherwise (the same work either way)."""
        entry = self._users.get(name)
        try:
            _HASHER.verify(entry["hash"] if entry else _DUMMY, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        return self.get(name) if entry else None
