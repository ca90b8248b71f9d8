"""What every page shares: rendering a template with the session's user and CSRF token, who may see, upload or
record (a refusal says why, with its status), and problems shown as the command line prints them."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, Iterable, List, Optional
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

import subsidy_rules
from ..problems import InputFault, Problem
from .security import csrf_ok, csrf_token, session_user
from .users import User

if TYPE_CHECKING:
    from ..runtime.evaluate import Evaluation


class Refused(InputFault):
    """A page request refused, with its status and reason (and the problems behind it)."""

    def __init__(self, status: int, message: str, problems: Optional[List[Problem]] = None):
        super().__init__(message)
        self.status, self.message, self.problems = status, message, problems or []


class LoginFirst(InputFault):
    """A page of a server with users asked for before logging in."""


def render(request: Request, name: str, context: Optional[dict] = None, status: int = 200) -> Response:
    state = request.app.state
    ctx = {"user": session_user(request), "csrf": csrf_token(request), "read_only": state.users is None,
           "has_ledger": bool(state.config.ledger), "path": request.url.path}
    ctx.update(context or {})
    return state.templates.TemplateResponse(request, name, ctx, status_code=status)


def word(request: Request, key: str) -> str:
    return request.app.state.word(key)


def viewer(request: Request) -> Optional[User]:
    """The signed-in user (any role), or None on a server without users; LoginFirst when one is needed."""
    if request.app.state.users is None:
        return None
    user = session_user(request)
    if user is None:
        raise LoginFirst()
    return user


def uploader(request: Request) -> Optional[User]:
    """Who may upload facts or a draft: anyone on a server without users, else a clerk or an administrator."""
    user = viewer(request)
    if user is not None and not user.may("clerk"):
        raise Refused(403, word(request, "refused.role"))
    return user


def recorder(request: Request, run: Optional[Evaluation] = None) -> User:
    """Who may record ``run``: a clerk of every county it holds a workshop of, or an administrator; never on a
    server without users (read-only) or without a ledger."""
    if not request.app.state.config.ledger:
        raise Refused(403, word(request, "no_ledger"))
    if request.app.state.users is None:
        raise Refused(403, word(request, "read_only"))
    user = viewer(request)
    assert user is not None  # a server with users: viewer gives the user, or asks to log in first
    if not user.may("clerk"):
        raise Refused(403, word(request, "refused.role"))
    if run is not None:
        for ws in run.facts.workshops:
            if not user.may_record_for(ws.get("county")):
                raise Refused(403, f"{word(request, 'refused.county')} {ws['id']}: {ws.get('county') or '-'}")
    return user


async def checked_form(request: Request) -> FormData:
    """The form of a POST, refused (403) unless it carries the session's CSRF token."""
    form = await request.form(max_files=2, max_fields=20)
    if not csrf_ok(request, form):
        raise Refused(403, word(request, "refused.csrf"))
    return form


def exception_handlers() -> Dict[Any, Callable[[Request, Any], Awaitable[Response]]]:
    async def refused(request: Request, exc: Refused) -> Response:
        return render(request, "message.html", {"title": word(request, "refused"), "message": exc.message,
                                                "problems": shown_problems(exc.problems)}, exc.status)

    async def login_first(request: Request, exc: LoginFirst) -> Response:
        return RedirectResponse(f"/login?{urlencode({'next': request.url.path})}", 303)

    async def http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            from starlette.responses import JSONResponse
            return JSONResponse({"problems": [{"severity": "error", "code": f"http.{exc.status_code}",
                                               "message": str(exc.detail), "pointer": "", "file": "", "line": 0,
                                               "col": 0}]}, exc.status_code)
        return render(request, "message.html", {"title": str(exc.status_code), "message": word(request, "not_found")
                                                if exc.status_code == 404 else str(exc.detail)}, exc.status_code)

    return {Refused: refused, LoginFirst: login_first, HTTPException: http_error}


def shown_problems(problems: Iterable[Problem], names: Optional[Dict[str, str]] = None) -> List[dict]:
    """Problems as the CLI prints them (code, file:line:col, message, the source line and a caret), with each
    stored upload named as the person named it."""
    names = names or {}
    out = []
    for p in problems:
        lines = subsidy_rules.problem_lines([p], _source_line)
        text = "\n".join(lines)
        for stored, shown in names.items():
            text = text.replace(stored, shown)
        out.append({"code": p.code, "severity": p.severity, "text": text, "pointer": p.pointer,
                    "line": p.location.line, "col": p.location.col})
    return out


def _source_line(path: str, n: int) -> str:
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as fh:
            for i, line in enumerate(fh, 1):
                if i == n:
                    return line.rstrip("\n")
    except OSError:
        pass
    return ""
