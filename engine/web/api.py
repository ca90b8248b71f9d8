"""The HTTP API, for other systems: ``/api/v1``. Facts go in as the body (JSON, YAML, or a workbook when the
library reads one) or as a multipart ``facts`` file; out come the decisions document, the explanation, or the
problems, as the CLI gives them (``{"problems": [{code, message, pointer, file, line, col, …}]}``), with 422 for
a policy or facts problem, 400 for a malformed request, 401 without credentials, 413 for a body over the limit.

On a server with users, every call needs HTTP Basic credentials of the users file (any role: the API only
reads; nothing is recorded through it). The OpenAPI document is ``/api/v1/openapi.json``.
"""
from __future__ import annotations

import json
import os
import secrets
from typing import TYPE_CHECKING, Awaitable, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import anyio
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.schemas import SchemaGenerator

import subsidy_rules
from ..problems import InputFault, Problem
from . import jobs as J
from .security import basic_user

if TYPE_CHECKING:
    from ..facts.reading import Facts
    from ..policy.parameters import Parameter
    from ..runtime.evaluate import Evaluation

#: An endpoint of the API
Endpoint = Callable[[Request], Awaitable[Response]]

SCHEMA = SchemaGenerator({"openapi": "3.0.0", "info": {"title": "subsidy-rules", "version": subsidy_rules.__version__}})

_TYPES = {"application/json": ".json", "application/yaml": ".yaml", "application/x-yaml": ".yaml",
          "text/yaml": ".yaml", "text/x-yaml": ".yaml",
          "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx"}


class ApiError(InputFault):
    """A request answered with problems and a 4xx status."""

    def __init__(self, status: int, problems: List[Problem], names: Optional[Dict[str, str]] = None):
        self.status, self.problems, self.names = status, problems, names or {}


def _problem_dicts(problems: Iterable[Problem], names: Dict[str, str]) -> List[dict]:
    out = []
    for p in problems:
        d = p.to_dict()
        d["file"] = names.get(d["file"], d["file"])
        d["message"] = _rename(d["message"], names)
        out.append(d)
    return out


def _rename(text: str, names: Dict[str, str]) -> str:
    for stored, shown in names.items():
        text = text.replace(stored, shown)
    return text


def _bad(code: str, message: str, status: int = 400) -> ApiError:
    return ApiError(status, [Problem(code, message)])


def _authorised(request: Request) -> None:
    if request.app.state.users is not None and basic_user(request) is None:
        raise ApiError(401, [Problem("auth.required", "give the credentials of a user of this server (HTTP Basic)")])


async def _body_file(request: Request, allowed: Sequence[str]) -> Tuple[str, str]:
    """The request's file, stored in the data folder: (path, the name to show). The name is the ``name`` query
    parameter or the uploaded file's name; the extension comes from it or from the content type."""
    from .uploads import safe_name
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=5)
        upload = form.get("facts") or form.get("policy")
        if not isinstance(upload, UploadFile):  # a file, not a text field
            raise _bad("request.no_file", "send the file as the multipart field `facts` (or `policy`)")
        data, given = await upload.read(), upload.filename or ""
    else:
        data, given = await request.body(), request.query_params.get("name", "")
        if not given and ctype in _TYPES:
            given = "input" + _TYPES[ctype]
    name = safe_name(given, allowed)
    if name is None:
        raise _bad("request.format", f"say what the body is: a content type of {', '.join(sorted(set(_TYPES)))} or a "
                                     f"`name` ending in {', '.join(allowed)}")
    if not data:
        raise _bad("request.empty", "the request has no body")
    folder = os.path.join(request.app.state.config.uploads, secrets.token_hex(12))
    os.makedirs(folder, mode=0o700)
    path = os.path.join(folder, name)
    with open(path, "wb") as fh:
        fh.write(data)
    return path, name


def _flag(request: Request, key: str) -> bool:
    return request.query_params.get(key, "").lower() in ("1", "true", "yes")


def _handle(fn: Endpoint) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        try:
            _authorised(request)
            return await fn(request)
        except ApiError as exc:
            headers = {"WWW-Authenticate": 'Basic realm="subsidy"'} if exc.status == 401 else None
            return JSONResponse({"problems": _problem_dicts(exc.problems, exc.names)}, exc.status, headers=headers)
    endpoint.__doc__ = fn.__doc__
    endpoint.__name__ = fn.__name__
    return endpoint


async def _facts(request: Request) -> Tuple[Facts, str, str]:
    from .uploads import FACTS_EXTENSIONS
    state = request.app.state
    path, name = await _body_file(request, FACTS_EXTENSIONS)
    try:
        facts = await anyio.to_thread.run_sync(subsidy_rules.load_facts, path, state.policy)
    except subsidy_rules.InvalidInput as exc:
        raise ApiError(422, exc.problems, {path: name})
    return facts, path, name


async def _decide(request: Request, facts: Facts, why_not: bool, names: Dict[str, str]) -> Evaluation:
    state = request.app.state
    try:
        return (await anyio.to_thread.run_sync(lambda: J.evaluate_facts(state.config, state.policy, facts, why_not),
                                               limiter=state.limiter))[0]
    except subsidy_rules.InvalidInput as exc:
        raise ApiError(422, exc.problems, names)
    except subsidy_rules.SubsidyError as exc:
        raise ApiError(503, [Problem(f"{exc.fault}.failed", str(exc))], names)


@_handle
async def evaluate(request: Request) -> Response:
    """
    summary: Decide every workshop of a facts file (the decisions document, as `subsidy evaluate --format json`).
    parameters:
      - {name: why_not, in: query, schema: {type: boolean}, description: also a denied decision for every rule that did not fire}
      - {name: trace, in: query, schema: {type: boolean, default: true}}
      - {name: workshop, in: query, schema: {type: string}, description: only this workshop}
      - {name: name, in: query, schema: {type: string}, description: the file name to report (its extension says the format)}
    requestBody:
      content:
        application/json: {schema: {type: object}}
        application/yaml: {schema: {type: string}}
        multipart/form-data: {schema: {type: object, properties: {facts: {type: string, format: binary}}}}
    responses:
      200: {description: the decisions document (schemas/decisions.schema.json)}
      400: {description: a malformed request, as problems}
      401: {description: no or wrong credentials (a server with users)}
      413: {description: the body is over the server's limit}
      422: {description: the facts have problems, each with its code, pointer, file, line and col}
    """
    facts, path, name = await _facts(request)
    facts = _only(facts, request.query_params.get("workshop"), name)
    run = await _decide(request, facts, _flag(request, "why_not"), {path: name})
    trace = request.query_params.get("trace", "true").lower() not in ("0", "false", "no")
    doc = subsidy_rules.to_json(run, with_trace=trace)
    return JSONResponse(json.loads(_rename(json.dumps(doc, ensure_ascii=False), {path: name})))


def _only(facts: Facts, workshop: Optional[str], name: str) -> Facts:
    if not workshop:
        return facts
    import dataclasses
    ids = [ws["id"] for ws in facts.workshops]
    if workshop not in ids:
        raise _bad("request.no_workshop", f"no workshop {workshop!r} in {name}", 422)
    i = ids.index(workshop)
    return dataclasses.replace(facts, workshops=(facts.workshops[i],), pointers=(facts.pointers[i],))


@_handle
async def explain(request: Request) -> Response:
    """
    summary: The trace behind each decision about one workshop, worker or loan (as `subsidy explain`), with every rule that did not fire.
    parameters:
      - {name: workshop, in: query, required: true, schema: {type: string}}
      - {name: worker, in: query, schema: {type: string}}
      - {name: loan, in: query, schema: {type: string}}
    requestBody:
      content:
        application/json: {schema: {type: object}}
        application/yaml: {schema: {type: string}}
    responses:
      200: {description: "{decisions: [{id, clause, rule, outcome, amount, reason, trace: [lines]}], text}"}
      400: {description: a malformed request}
      422: {description: the facts have problems, or the workshop, worker or loan is not in them}
    """
    workshop = request.query_params.get("workshop")
    if not workshop:
        raise _bad("request.workshop", "give the workshop to explain: ?workshop=ID")
    facts, path, name = await _facts(request)
    facts = _only(facts, workshop, name)
    worker, loan = request.query_params.get("worker"), request.query_params.get("loan")
    run = await _decide(request, facts, True, {path: name})
    chosen = [d for d in run.decisions if d.worker == worker and d.loan == loan]
    if not chosen:
        raise _bad("request.no_subject", f"workshop {workshop} has no worker {worker!r} or loan {loan!r}", 422)
    doc = subsidy_rules.to_json(run)
    ids = {(d.worker, d.loan, d.rule) for d in chosen}
    picked = [d for d in doc["decisions"] if (d.get("worker"), d.get("loan"), d["rule"]) in ids]
    text = _rename(subsidy_rules.explain_text(run, chosen), {path: name})
    return JSONResponse(json.loads(_rename(json.dumps({"decisions": picked, "text": text}, ensure_ascii=False),
                                           {path: name})))


@_handle
async def validate(request: Request) -> Response:
    """
    summary: Check a policy file (as `subsidy validate --format json`); a draft may extend only the served policy, by its file name.
    requestBody:
      content:
        application/yaml: {schema: {type: string}}
    responses:
      200: {description: "{policy, sha256, problems: [warnings]}"}
      422: {description: "{problems: [...]}: the policy has errors"}
    """
    from .uploads import POLICY_EXTENSIONS, draft_parent
    path, name = await _body_file(request, POLICY_EXTENSIONS)
    problem = draft_parent(path, request.app.state.policy)
    if problem is not None:
        raise ApiError(422, [problem], {path: name})
    try:
        loaded, warnings = await anyio.to_thread.run_sync(subsidy_rules.check_policy, path)
    except subsidy_rules.InvalidInput as exc:
        raise ApiError(422, exc.problems, {path: name})
    return JSONResponse({"policy": loaded.id, "sha256": loaded.sha256,
                         "problems": _problem_dicts(warnings, {path: name})})


@_handle
async def policy(request: Request) -> Response:
    """
    summary: The served policy, as data - clauses, rules, parameters with their values over time and sources.
    responses:
      200: {description: "{id, title, document, sha256, in_force, clauses, rules, parameters}"}
    """
    from ..lang.printing import format_value
    p = request.app.state.policy

    def values(param: Parameter) -> List[dict]:
        return [{"from": v.since.isoformat() if v.since else None, "until": v.ends.isoformat() if v.ends else None,
                 "value": format_value(v.value if not param.table else dict((format_value(k), a) for k, a in v.value)),
                 "source": v.source, "unconfirmed": v.unconfirmed} for v in param.values]

    return JSONResponse({
        "id": p.id, "title": p.title, "document": p.document, "sha256": p.sha256,
        "in_force": p.in_force.isoformat() if p.in_force else None,
        "clauses": [{"id": c.id, "heading": c.heading, "kind": c.kind, "text": c.text} for c in p.clauses.values()],
        "rules": [{"id": r.id, "clause": r.clause, "label": r.label, "subject": r.subject, "decides": r.decides,
                   "fund": r.fund, "conditions": [{"test": c.text, "label": c.label} for c in r.when],
                   "amount": r.amount.text if r.amount else None} for r in p.rules],
        "parameters": [{"name": q.name, "label": q.label, "unit": q.unit, "clause": q.clause, "values": values(q)}
                       for q in p.parameters.values()],
    })


async def openapi(request: Request) -> Response:
    """The OpenAPI document, made from the endpoints' docstrings by Starlette's schema generator."""
    return JSONResponse(SCHEMA.get_schema(routes=request.app.routes))


def routes() -> List[Route]:
    return [
        Route("/api/v1/evaluate", evaluate, methods=["POST"]),
        Route("/api/v1/explain", explain, methods=["POST"]),
        Route("/api/v1/validate", validate, methods=["POST"]),
        Route("/api/v1/policy", policy, methods=["GET"]),
        Route("/api/v1/openapi.json", openapi, methods=["GET"], include_in_schema=False),
    ]
