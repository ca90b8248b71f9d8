"""Signed checkpoints: the ledger's head, anchored outside the database.

Anyone who can write to the database can recompute every hash of the chain.
What they cannot do is sign: ``subsidy ledger checkpoint`` writes the head
(the last run's chain hash, the last entry's hash, how many of each) signed
with the office's Ed25519 key, with the public key beside it. ``subsidy
ledger verify URL --checkpoint FILE --public-key office.pub`` then shows
whether the ledger still holds exactly what was signed: a chain rewritten with
recomputed hashes, runs dropped and the head rewound, an edited run or
supersession all change the chain hash the checkpoint signed.

Keys are PEM files: ``subsidy ledger keygen --key office.key`` writes one (and
``office.pub``), or ``openssl genpkey -algorithm ed25519 -out office.key`` and
``openssl pkey -in office.key -pubout -out office.pub``.
"""
from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Type

from ..problems import InvalidInput, Location, Problem
from .chain import Break, Walk

if TYPE_CHECKING:
    from types import ModuleType

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    from .model import Verification

FORMAT = "subsidy-ledger-checkpoint/1"
_FIELDS = ("format", "ledger", "runs", "entries", "head", "entry_hash", "made_at", "tool_version", "public_key")


def _crypto() -> Tuple[Type[Exception], ModuleType, Type[Ed25519PrivateKey], Type[Ed25519PublicKey]]:
    """cryptography's signature error, serialization module and Ed25519 key classes, imported when first needed."""
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise InvalidInput([Problem("ledger.key", f"signing needs the cryptography package: {exc}", "",
                                    hint="pip install 'cryptography>=42'")]) from None
    return InvalidSignature, serialization, Ed25519PrivateKey, Ed25519PublicKey


def _problem(code: str, message: str, path: str, hint: Optional[str] = None) -> InvalidInput:
    return InvalidInput([Problem(code, message, "", Location(path), hint=hint)])


def fingerprint(raw: bytes) -> str:
    """How a public key is named to people: sha256 of its 32 raw bytes, the first 16 hex digits."""
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


def keygen(key_path: str, public_path: str) -> str:
    """Write a new Ed25519 private key (PEM, PKCS#8, readable by its owner only) and its public key (PEM); the
    public key's fingerprint. Refuses to overwrite either file."""
    _, serialization, Ed25519PrivateKey, _ = _crypto()
    for path in (key_path, public_path):
        if os.path.exists(path):
            raise _problem("ledger.key", f"{path} exists already; a key is never overwritten", path,
                           hint="choose another file name, or remove the old key yourself if it is really unused")
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(private)
        with open(public_path, "xb") as fh:
            fh.write(public)
    except OSError as exc:
        raise _problem("ledger.key", f"cannot write the key: {exc.strerror}", exc.filename or key_path) from None
    return fingerprint(_raw(key.public_key()))


def _raw(public: Ed25519PublicKey) -> bytes:
    _, serialization, _, _ = _crypto()
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(1 << 20)
    except OSError as exc:
        raise _problem("ledger.key", f"cannot read {path}: {exc.strerror}", path) from None


def load_private(path: str) -> Ed25519PrivateKey:
    _, serialization, Ed25519PrivateKey, _ = _crypto()
    data = _read(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise _problem("ledger.key", f"{path} is encrypted with a passphrase; checkpoint needs an unencrypted key file "
                       "kept where only the office can read it", path) from None
    except Exception as exc:  # cryptography raises ValueError or UnsupportedAlgorithm
        raise _problem("ledger.key", f"{path} is not a PEM private key ({type(exc).__name__})", path,
                       hint="make one with `subsidy ledger keygen --key office.key`") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise _problem("ledger.key", f"{path} is not an Ed25519 key", path,
                       hint="openssl genpkey -algorithm ed25519 -out office.key")
    return key


def load_public(path: str) -> bytes:
    """The 32 raw bytes of the Ed25519 public key in the PEM file at ``path`` (a private key file gives its
    public half)."""
    _, serialization, Ed25519PrivateKey, Ed25519PublicKey = _crypto()
    data = _read(path)
    try:
        key = serialization.load_pem_public_key(data)
    except Exception:  # not a public key: perhaps the private key, whose public half it is
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except Exception:
            raise _problem("ledger.key", f"{path} is not a PEM public key", path,
                           hint="the office's public key, as `subsidy ledger keygen` or `openssl pkey -pubout` wrote "
                                "it") from None
    if not isinstance(key, Ed25519PublicKey):
        raise _problem("ledger.key", f"{path} is not an Ed25519 public key", path)
    return _raw(key)


def _payload(body: Dict[str, Any]) -> bytes:
    return json.dumps({k: body[k] for k in _FIELDS}, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode("utf-8")


def make(verification: Verification, display: str, key_path: str, tool_version: str) -> Dict[str, Any]:
    """The signed checkpoint of a ledger just verified intact (``verification``: what :meth:`Ledger.verify`
    found)."""
    key = load_private(key_path)
    walk = verification.walk
    body = {"format": FORMAT, "ledger": display, "runs": walk.runs, "entries": walk.entries, "head": walk.chain,
            "entry_hash": walk.entry_hash,
            "made_at": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
            "tool_version": tool_version, "public_key": base64.b64encode(_raw(key.public_key())).decode("ascii")}
    body["signature"] = base64.b64encode(key.sign(_payload(body))).decode("ascii")
    return body


def write(body: Dict[str, Any], path: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(body, fh, ensure_ascii=False, indent=2)
            fh.write("\n")
    except OSError as exc:
        raise _problem("ledger.checkpoint", f"cannot write the checkpoint: {exc.strerror}", path) from None


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint read from its file, its signature checked."""

    path: str
    runs: int
    entries: int
    head: str
    entry_hash: str
    made_at: str
    ledger: str
    key: str  # the fingerprint of the key that signed it
    pinned: bool  # checked against a public key given apart from the checkpoint

    def compare(self, walk: Walk) -> List[Break]:
        """Whether the ledger walked still holds what this checkpoint signed."""
        seen = f"the checkpoint {self.path} of {self.made_at} signed run {self.runs}, entry {self.entries}, head {self.head[:12]}…"
        if walk.runs < self.runs or walk.entries < self.entries:
            return [Break("checkpoint", self.runs, f"{seen}; the ledger now holds {walk.runs} runs and {walk.entries} "
                          "entries: recorded runs were removed and the head rewound")]
        chain_now = walk.chains.get(self.runs)
        if chain_now != self.head:
            return [Break("checkpoint", self.runs, f"{seen}; run {self.runs}'s chain hash is now "
                          f"{str(chain_now)[:12]}…: the ledger was rewritten (its hashes recomputed) at or before run "
                          f"{self.runs}")]
        if self.entries and walk.ends.get(self.entries) != self.entry_hash:
            return [Break("checkpoint", self.runs, f"{seen}; entry {self.entries}'s hash is now "
                          f"{str(walk.ends.get(self.entries))[:12]}…: the entries were rewritten")]
        return []


def load(path: str, public_key: Optional[str] = None) -> Checkpoint:
    """The checkpoint at ``path``, its signature checked against ``public_key`` (a PEM file) or, without one, the
    key it carries. InvalidInput (``ledger.checkpoint``, ``ledger.bad_signature``) when it cannot be trusted."""
    InvalidSignature, _, _, Ed25519PublicKey = _crypto()
    try:
        with open(path, encoding="utf-8") as fh:
            body = json.loads(fh.read(1 << 20))
    except OSError as exc:
        raise _problem("ledger.checkpoint", f"cannot read the checkpoint: {exc.strerror}", path) from None
    except (ValueError, UnicodeDecodeError):
        raise _problem("ledger.checkpoint", "the checkpoint is not JSON", path) from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise _problem("ledger.checkpoint", f"not a ledger checkpoint (format {FORMAT})", path)
    missing = [k for k in _FIELDS + ("signature",) if k not in body]
    if missing:
        raise _problem("ledger.checkpoint", f"the checkpoint lacks {', '.join(missing)}", path)
    if not (isinstance(body["runs"], int) and isinstance(body["entries"], int) and isinstance(body["head"], str)
            and isinstance(body["entry_hash"], str)):
        raise _problem("ledger.checkpoint", "the checkpoint's runs, entries or hashes are not what a checkpoint holds",
                       path)
    try:
        carried = base64.b64decode(body["public_key"], validate=True)
        signature = base64.b64decode(body["signature"], validate=True)
    except (ValueError, TypeError):
        raise _problem("ledger.checkpoint", "the checkpoint's public key or signature is not base64", path) from None
    pinned = public_key is not None
    raw = load_public(public_key) if public_key is not None else carried
    if pinned and raw != carried:
        raise _problem("ledger.bad_signature", f"the checkpoint carries the key {fingerprint(carried)}, not the "
                       f"office's key {fingerprint(raw)} ({public_key}): it was not signed by the office", path)
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(signature, _payload(body))
    except (InvalidSignature, ValueError):
        raise _problem("ledger.bad_signature", f"the checkpoint's signature does not verify with the key "
                       f"{fingerprint(raw)}: the checkpoint was altered after it was signed", path) from None
    return Checkpoint(path, body["runs"], body["entries"], body["head"], body["entry_hash"], str(body["made_at"]),
                      str(body["ledger"]), fingerprint(raw), pinned)
