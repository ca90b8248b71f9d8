"""The web application: ``create_app(config)`` builds the Starlette app that ``subsidy serve`` runs with uvicorn.

Pages rendered on the server with Jinja2 (autoescaping on), in the policy's language (every word from the
policy's ``web.*`` labels), and an HTTP API under ``/api/v1`` with an OpenAPI document. See ``pages`` and
``api`` for the routes, ``security`` for sessions, CSRF and the upload limit, ``users`` for who may do what.
"""
from __future__ import annotations

import os
from decimal import Decimal
from typing import Optional

import anyio
from jinja2 import Environment, PackageLoader
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import Scope

import subsidy_rules
from ..views.exports import visible
from ..views.formats import money
from . import access, api, pages
from .config import WebConfig, prepare_data
from .jobs import Jobs
from .security import BodyLimit, SecurityHeaders
from .users import Users
from .words import DEFAULTS


def _finalize(value: object) -> object:
    """Every printed value made visible (a control character as its escape), as the audit report does."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible(value)
    return value


def grouped(amount: Optional[Decimal]) -> str:
    """An amount with thousands separators and two decimals (the terminal's ledger report writes them so)."""
    text = money(amount)
    if text is None:
        return ""
    whole, _, cents = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}{int(whole.lstrip('-')):,}.{cents}"


def create_app(config: WebConfig) -> Starlette:
    """The application for ``config``; the policy is loaded (and must be valid) and the data folder made now."""
    policy = subsidy_rules.load_policy(config.policy)
    secret = prepare_data(config)
    users = Users(config.users) if config.users else None

    env = Environment(loader=PackageLoader(__package__, "templates"), autoescape=True, finalize=_finalize,
                      trim_blocks=True, lstrip_blocks=True)

    def word(key: str) -> str:
        return policy.label(f"web.{key}", DEFAULTS.get(key, key))

    env.globals.update(t=word, label=policy.label, money=grouped, policy=policy, config=config,
                       version=subsidy_rules.__version__)
    templates = Jinja2Templates(env=env)

    def refuse_large(scope: Scope) -> Response:
        message = f"{word('refused.too_large')} {config.max_upload:,}"
        if scope["path"].startswith("/api/"):
            return JSONResponse({"problems": [{"severity": "error", "code": "input.too_large", "message": message,
                                               "pointer": "", "file": "", "line": 0, "col": 0}]}, 413)
        body = env.get_template("message.html").render(title=word("refused"), message=message, user=None, csrf="",
                                                         path=scope["path"], read_only=users is None,
                                                         has_ledger=bool(config.ledger))
        return HTMLResponse(body, 413)

    app = Starlette(
        routes=pages.routes() + api.routes() + [
            Mount("/static", StaticFiles(directory=os.path.join(os.path.dirname(__file__), "static")), name="static")],
        middleware=[
            Middleware(TrustedHostMiddleware, allowed_hosts=list(config.allowed_hosts)),
            Middleware(SecurityHeaders),
            Middleware(BodyLimit, limit=config.max_upload, refuse=refuse_large),
            Middleware(SessionMiddleware, secret_key=secret, session_cookie="subsidy_session", same_site="strict",
                       https_only=config.https_only, max_age=12 * 60 * 60),
        ],
        exception_handlers=access.exception_handlers(),
    )
    app.state.config = config
    app.state.policy = policy
    app.state.users = users
    app.state.templates = templates
    app.state.word = word
    app.state.jobs = Jobs(config)
    app.state.limiter = anyio.CapacityLimiter(max(1, config.workers))
    return app
