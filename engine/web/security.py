"""Sessions, the signed-in user, CSRF tokens and the request body limit.

- The session is Starlette's signed cookie (itsdangerous, keyed by the data folder's secret): HttpOnly,
  SameSite=strict, Secure when the server is told it sits behind TLS. It holds only the user's name and the
  session's CSRF token.
- Every form carries the session's CSRF token; a POST to a page without it, or with another, is refused (403)
  before anything is done. The API takes no cookies (HTTP Basic, checked against the users file), so a page of
  another site cannot make a browser call it.
- A request body longer than the server's limit is refused (413) after being read and discarded, never kept.
- Every response says it may not be framed by another site (a page cannot be overlaid to trick a click on
  "record") and may run no script; a server on a loopback address answers only to its loopback names (a DNS
  rebinding page cannot reach it under another name).
"""
from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from typing import Callable, Optional

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..problems import InputFault
from .users import User

CSRF_FIELD = "csrf"


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_ok(request: Request, form: FormData) -> bool:
    sent = form.get(CSRF_FIELD)
    token: Optional[str] = request.session.get("csrf")  # set by csrf_token
    return token is not None and bool(token) and isinstance(sent, str) and hmac.compare_digest(sent.encode(),
                                                                                             token.encode())


def session_user(request: Request) -> Optional[User]:
    users = request.app.state.users
    name = request.session.get("user")
    return users.get(name) if users is not None and isinstance(name, str) else None


def basic_user(request: Request) -> Optional[User]:
    """The user of an API request's HTTP Basic credentials, if they are right."""
    users = request.app.state.users
    header = request.headers.get("authorization", "")
    if users is None or not header.lower().startswith("basic "):
        return None
    try:
        name, _, password = base64.b64decode(header[6:], validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return users.check(name, password)


class TooLarge(InputFault):
    """A request body over the server's limit."""


class BodyLimit:
    """ASGI middleware: a request whose body is longer than ``limit`` bytes is answered by ``refuse(scope)`` (a
    413 response); its body is read and dropped (up to ``drain`` bytes) so the client sees the answer."""

    def __init__(self, app: ASGIApp, limit: int, refuse: Callable[[Scope], ASGIApp], drain: int = 256 * 1024 * 1024):
        self.app, self.limit, self.refuse, self.drain = app, limit, refuse, drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._drain(receive, int(declared))
            return await self.refuse(scope)(scope, receive, send)
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise TooLarge()
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except TooLarge:
            if started:
                raise
            await self._drain(receive, self.drain)
            await self.refuse(scope)(scope, receive, send)

    async def _drain(self, receive: Receive, most: int) -> None:
        read = 0
        while read <= min(most, self.drain):
            message = await receive()
            if message["type"] != "http.request":
                return
            read += len(message.get("body", b""))
            if not message.get("more_body"):
                return


_HEADERS = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"content-security-policy", b"default-src 'self'; script-src 'none'; frame-ancestors 'none'; "
                                         b"form-action 'self'; base-uri 'none'")]


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP response."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers") or ()) + _HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)
