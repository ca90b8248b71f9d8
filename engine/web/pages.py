"""The pages: the policy, evaluate (an upload), the ledger and a draft policy, by the
words of the policy's labels. Handlers are thin: they check who asks, call the library (in a worker thread when
it may take long) and render a template."""
from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import secrets
import shutil
from decimal import Decimal
from typing import Dict, List, Optional
from urllib.parse import quote, urlencode

import anyio
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

import subsidy_rules
from ..problems import InputFault, Location, Problem
from ..runtime.decisions import decision_id, period_key
from . import jobs as J
from . import ledger_ops
from .security import csrf_ok, csrf_token, session_user

FACTS_EXTENSIONS = (".yaml", ".yml", ".json", ".xlsx")
POLICY_EXTENSIONS = (".yaml", ".yml")


class Refused(InputFault):
    """A page request refused, with its status and reason (and the problems behind it)."""

    def __init__(self, status: int, message: str, problems: Optional[List[Problem]] = None):
        super().__init__(message)
        self.status, self.message, self.problems = status, message, problems or []


class LoginFirst(InputFault):
    """A page of a server with users asked for before logging in."""


# --- rendering and access -----------------------------------------------------------------------------------------

def render(request: Request, name: str, context: Optional[dict] = None, status: int = 200) -> Response:
    state = request.app.state
    ctx = {"user": session_user(request), "csrf": csrf_token(request), "read_only": state.users is None,
           "has_ledger": bool(state.config.ledger), "path": request.url.path}
    ctx.update(context or {})
    return state.templates.TemplateResponse(request, name, ctx, status_code=status)


def word(request: Request, key: str) -> str:
    return request.app.state.word(key)


def viewer(request: Request):
    """The signed-in user (any role), or None on a server without users; LoginFirst when one is needed."""
    if request.app.state.users is None:
        return None
    user = session_user(request)
    if user is None:
        raise LoginFirst()
    return user


def uploader(request: Request):
    """Who may upload facts or a draft: anyone on a server without users, else a clerk or an administrator."""
    user = viewer(request)
    if user is not None and not user.may("clerk"):
        raise Refused(403, word(request, "refused.role"))
    return user


def recorder(request: Request, run=None):
    """Who may record ``run``: a clerk of every county it holds a workshop of, or an administrator; never on a
    server without users (read-only) or without a ledger."""
    if not request.app.state.config.ledger:
        raise Refused(403, word(request, "no_ledger"))
    if request.app.state.users is None:
        raise Refused(403, word(request, "read_only"))
    user = viewer(request)
    if not user.may("clerk"):
        raise Refused(403, word(request, "refused.role"))
    if run is not None:
        for ws in run.facts.workshops:
            if not user.may_record_for(ws.get("county")):
                raise Refused(403, f"{word(request, 'refused.county')} {ws['id']}: {ws.get('county') or '-'}")
    return user


async def checked_form(request: Request):
    """The form of a POST, refused (403) unless it carries the session's CSRF token."""
    form = await request.form(max_files=2, max_fields=20)
    if not csrf_ok(request, form):
        raise Refused(403, word(request, "refused.csrf"))
    return form


def exception_handlers():
    async def refused(request: Request, exc: Refused):
        return render(request, "message.html", {"title": word(request, "refused"), "message": exc.message,
                                                "problems": shown_problems(exc.problems)}, exc.status)

    async def login_first(request: Request, exc: LoginFirst):
        return RedirectResponse(f"/login?{urlencode({'next': request.url.path})}", 303)

    async def http_error(request: Request, exc: HTTPException):
        if request.url.path.startswith("/api/"):
            from starlette.responses import JSONResponse
            return JSONResponse({"problems": [{"severity": "error", "code": f"http.{exc.status_code}",
                                               "message": str(exc.detail), "pointer": "", "file": "", "line": 0,
                                               "col": 0}]}, exc.status_code)
        return render(request, "message.html", {"title": str(exc.status_code), "message": word(request, "not_found")
                                                if exc.status_code == 404 else str(exc.detail)}, exc.status_code)

    return {Refused: refused, LoginFirst: login_first, HTTPException: http_error}


def shown_problems(problems, names: Optional[Dict[str, str]] = None) -> List[dict]:
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


# --- uploads ----------------------------------------------------------------------------------------------------

_SAFE = re.compile(r"[^\w.\- ]", re.UNICODE)


def safe_name(name: str, allowed) -> Optional[str]:
    """An uploaded file's own name, reduced to a plain file name with an allowed extension (never a path)."""
    base = _SAFE.sub("_", os.path.basename((name or "").replace("\\", "/"))).strip(" .")[-120:]
    ext = os.path.splitext(base)[1].lower()
    return base if base and ext in allowed else None


async def save_upload(request: Request, upload, allowed, folder: Optional[str] = None) -> tuple:
    """Store an uploaded file under the data folder's uploads, in a folder of its own: (path, name, size)."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise Refused(400, word(request, "evaluate.upload"))
    name = safe_name(upload.filename, allowed)
    if name is None:
        raise Refused(400, f"{upload.filename}: {word(request, 'evaluate.formats')}",
                      [Problem("file.format", f"{', '.join(allowed)}", "", Location(upload.filename))])
    config = request.app.state.config
    folder = folder or os.path.join(config.uploads, secrets.token_hex(12))
    os.makedirs(folder, mode=0o700, exist_ok=True)
    path = os.path.join(folder, name)
    size = 0
    with open(path, "wb") as out:
        while True:
            chunk = await upload.read(1 << 16)
            if not chunk:
                break
            size += len(chunk)
            out.write(chunk)
    return path, name, size


# --- login ------------------------------------------------------------------------------------------------------

async def login(request: Request):
    nxt = request.query_params.get("next", "/")
    if request.method == "GET":
        return render(request, "login.html", {"next": nxt})
    form = await checked_form(request)
    users = request.app.state.users
    name, password = str(form.get("user") or ""), str(form.get("password") or "")
    user = await anyio.to_thread.run_sync(users.check, name, password) if users is not None else None
    if user is None:
        return render(request, "login.html", {"next": nxt, "failed": True}, 401)
    request.session.clear()  # a new session: a token planted before login is not carried over
    request.session["user"] = user.name
    csrf_token(request)
    target = str(form.get("next") or "/")
    return RedirectResponse(target if target.startswith("/") and not target.startswith("//") else "/", 303)


async def logout(request: Request):
    await checked_form(request)
    request.session.clear()
    return RedirectResponse("/login", 303)


async def home(request: Request):
    return RedirectResponse("/policy", 303)


# --- the policy -------------------------------------------------------------------------------------------------------

async def policy_page(request: Request):
    viewer(request)
    policy = request.app.state.policy
    view = await anyio.to_thread.run_sync(policy_view, policy)
    return render(request, "policy.html", view)


def policy_view(policy, day=None) -> dict:
    """The policy as the page shows it; labels that quote a parameter are filled with its value on ``day`` (today)."""
    import datetime as dt

    from ..lang.expr import format_value
    from ..policy.labels import fill_label
    from ..tools.diff import policy_changes
    day = day or dt.date.today()

    def fill(text):
        return fill_label(text, policy.parameters, day) if text else text

    def values(p):
        out = []
        for v in p.values:
            value = v.value if not p.table else dict((format_value(k), a) for k, a in v.value)
            out.append({"since": v.since.isoformat() if v.since else "", "until": v.until.isoformat() if v.until else "",
                        "value": format_value(value), "source": v.source, "unconfirmed": v.unconfirmed})
        return out

    rules_by_clause: Dict[str, list] = {}
    for r in sorted(policy.rules, key=lambda r: r.index):
        rules_by_clause.setdefault(r.clause, []).append({
            "id": r.id, "label": fill(r.label), "subject": policy.label(f"subject.{r.subject}", r.subject),
            "decides": policy.label(r.decides, r.decides), "requires": [q.text for q in r.requires],
            "conditions": [{"label": fill(c.label) or c.text, "text": c.text, "reading": c.reading} for c in r.when],
            "each": None if not r.each else {"source": r.each.source.text,
                                             "where": [{"label": fill(c.label) or c.text, "text": c.text, "reading": c.reading}
                                                       for c in r.each.where]},
            "amount": r.amount.text if r.amount else "", "fund": policy.label(r.fund) if r.fund else "",
            "reading": r.reading, "note": r.note})
    groups_by_clause: Dict[str, list] = {}
    for g in policy.exclusivity:
        groups_by_clause.setdefault(g.clause, []).append({
            "id": g.id, "members": [fill(policy.rule(m).label) if m in {r.id for r in policy.rules} else m for m in g.members],
            "strategy": g.strategy, "scope": g.scope, "reading": g.reading})
    params_by_clause: Dict[Optional[str], list] = {}
    for p in policy.parameters.values():
        params_by_clause.setdefault(p.clause if p.clause in policy.clauses else None, []).append(
            {"name": p.name, "label": p.label, "unit": p.unit, "keyed_by": p.keyed_by, "values": values(p)})
    clauses = [{"id": c.id, "heading": c.heading, "text": c.text, "kind": c.kind,
                "rules": rules_by_clause.get(c.id, []), "groups": groups_by_clause.get(c.id, []),
                "parameters": params_by_clause.get(c.id, [])} for c in policy.clauses.values()]
    fork = None
    if len(policy.sources) > 1:
        try:
            paths = [path for path, _ in policy.sources]  # the root first, the policy itself last
            own = paths.index(policy.path) if policy.path in paths else len(paths) - 1
            parent = subsidy_rules.load_policy(paths[own - 1])
            fork = {"parent": os.path.basename(parent.path),
                    "changes": [dataclasses.asdict(c) for c in policy_changes(parent, policy)]}
        except subsidy_rules.InvalidInput:
            fork = None
    return {"clauses": clauses, "other_parameters": params_by_clause.get(None, []), "fork": fork}


def rule_label(policy, rule_id: str, day) -> str:
    """A rule's label, its placeholders filled with the parameters' values on ``day`` (the period's end)."""
    from ..policy.labels import fill_label
    return fill_label(policy.rule(rule_id).label, policy.parameters, day)


# --- evaluate -------------------------------------------------------------------------------------------------------

async def evaluate_page(request: Request):
    user = viewer(request)
    state = request.app.state
    if request.method == "POST":
        user = uploader(request)
        form = await checked_form(request)
        path, name, size = await save_upload(request, form.get("facts"), FACTS_EXTENSIONS)
        job = state.jobs.add(name, path, user.name if user else None, size)

        async def run():
            await anyio.to_thread.run_sync(state.jobs.run, job, state.policy, limiter=state.limiter)

        return RedirectResponse(f"/evaluations/{job.id}", 303, background=BackgroundTask(run))
    may_upload = user is None or user.may("clerk")
    return render(request, "evaluate.html", {"jobs": state.jobs.all(), "may_upload": may_upload})


def _job(request: Request) -> J.Job:
    job = request.app.state.jobs.get(request.path_params["job"])
    if job is None:
        raise HTTPException(404)
    return job


def summary(run) -> dict:
    policy, facts = run.policy, run.facts
    period = period_key(facts.period_start, facts.period_end)
    zero = Decimal("0.00")
    by_shop: Dict[str, list] = {}
    for d in run.decisions:
        by_shop.setdefault(d.workshop, []).append(d)
    counties: Dict[tuple, Decimal] = {}
    shops = []
    for ws in facts.workshops:
        decisions = by_shop.get(ws["id"], [])
        total = sum((d.amount for d in decisions if d.outcome == "granted" and d.amount is not None), zero)
        key = (ws.get("city") or "", ws.get("county") or "")
        counties[key] = counties.get(key, zero) + total
        rows = [{"id": decision_id(policy.sha256, period, d), "subject": d.subject, "worker": d.worker, "loan": d.loan,
                 "who": d.worker or d.loan or "", "clause": d.clause, "rule": rule_label(policy, d.rule, facts.period_end),
                 "outcome": d.outcome, "outcome_label": policy.label(d.outcome), "amount": d.shown_amount,
                 "fund": policy.label(d.fund) if d.fund else ""} for d in decisions]
        shops.append({"id": ws["id"], "name": ws.get("name", ""), "city": ws.get("city", ""),
                      "county": ws.get("county", ""), "total": total, "decisions": rows,
                      "workers": [w["id"] for w in ws.get("workers") or ()]})
    return {"period": f"{facts.period_start.isoformat()} – {facts.period_end.isoformat()}", "totals": run.totals,
            "by_county": sorted(counties.items()), "workshops": shops,
            "waiting": [{"parameter": k[0], "date": str(k[1]), "key": k[2], "count": n} for k, n in run.totals.waiting.items()]}


async def evaluation_page(request: Request):
    viewer(request)
    job = _job(request)
    # the job's state read once: the worker thread may finish while the page is made, and a page that says
    # "done" must carry the summary it was made with
    state = job.state
    context = {"job": job, "state": state, "busy": state in (J.QUEUED, J.READING, J.DECIDING),
               "names": {job.path: job.name}}
    if state == J.FAILED:
        context["problems"] = shown_problems(job.problems, {job.path: job.name})
    elif state == J.DONE:
        context["s"] = summary(job.run)
    return render(request, "evaluation.html", context, 422 if state == J.FAILED else 200)


def _decision(job: J.Job, wanted: str):
    run = job.run
    period = period_key(run.facts.period_start, run.facts.period_end)
    for d in run.decisions:
        if decision_id(run.policy.sha256, period, d) == wanted:
            return d
    raise HTTPException(404)


def _done(job: J.Job) -> J.Job:
    if job.state != J.DONE:
        raise HTTPException(404)
    return job


async def decision_page(request: Request):
    viewer(request)
    job = _done(_job(request))
    d = _decision(job, request.query_params.get("id", ""))
    run = job.run
    text = subsidy_rules.explain_text(run, [d]).replace(job.path, job.name)
    clause = run.policy.clauses[d.clause]
    return render(request, "decision.html", {"job": job, "d": d, "clause": clause, "explain": text,
                                             "rule_label": rule_label(run.policy, d.rule, run.facts.period_end)})


async def subject_page(request: Request):
    """Every rule for one worker, loan or workshop, with why each did not apply (why-not)."""
    viewer(request)
    job = _done(_job(request))
    run = job.run
    shop, worker, loan = (request.query_params.get(k) or None for k in ("workshop", "worker", "loan"))
    ids = [ws["id"] for ws in run.facts.workshops]
    if shop not in ids:
        raise HTTPException(404)
    index = ids.index(shop)
    facts = run.facts
    one = dataclasses.replace(facts, workshops=(facts.workshops[index],), pointers=(facts.pointers[index],))
    config = request.app.state.config

    def decide():
        return J.evaluate_facts(config, run.policy, one, why_not=True)[0]

    try:
        again = await anyio.to_thread.run_sync(decide, limiter=request.app.state.limiter)
    except subsidy_rules.SubsidyError as exc:
        raise Refused(409, str(exc))
    chosen = [d for d in again.decisions if d.worker == worker and d.loan == loan]
    if not chosen:
        raise HTTPException(404)
    period = period_key(facts.period_start, facts.period_end)
    rows = [{"id": decision_id(run.policy.sha256, period, d), "clause": d.clause, "rule": rule_label(run.policy, d.rule, facts.period_end),
             "outcome": d.outcome, "outcome_label": run.policy.label(d.outcome), "amount": d.shown_amount,
             "reason": d.reason} for d in chosen]
    text = subsidy_rules.explain_text(again, chosen).replace(job.path, job.name)
    return render(request, "subject.html", {"job": job, "workshop": shop, "worker": worker, "loan": loan,
                                            "rows": rows, "explain": text})


async def download(request: Request):
    viewer(request)
    job = _done(_job(request))
    run = job.run
    kind = request.path_params["kind"]
    stem = os.path.splitext(job.name)[0]
    if kind == "decisions.json":
        doc = subsidy_rules.to_json(run)
        body, media = json.dumps(doc, ensure_ascii=False, indent=2).replace(job.path, job.name) + "\n", "application/json"
    elif kind == "payouts.xlsx":
        from ..views.exports import workbook

        def save():
            buffer = io.BytesIO()
            workbook(run).save(buffer)
            return buffer.getvalue()

        body = await anyio.to_thread.run_sync(save)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    elif kind == "report.html":
        from ..views.html import html_report
        body = await anyio.to_thread.run_sync(html_report, run, None, subsidy_rules.__version__)
        body, media = body.replace(job.path, job.name), "text/html; charset=utf-8"
    else:
        raise HTTPException(404)
    filename = f"{stem}-{kind}"
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"}
    return Response(body, media_type=media, headers=headers)


# --- the ledger -------------------------------------------------------------------------------------------------------

async def record_page(request: Request):
    job = _done(_job(request))
    state = request.app.state
    recorder(request, job.run)
    url = state.config.ledger
    if request.method == "GET":
        try:
            preview = await anyio.to_thread.run_sync(ledger_ops.preview, url, job.run, job.held)
        except subsidy_rules.InvalidInput as exc:
            raise Refused(409, word(request, "ledger.not_recorded"), exc.problems)
        except subsidy_rules.SubsidyError as exc:
            raise Refused(503, str(exc))
        return render(request, "confirm.html", {"job": job, "p": preview})
    form = await checked_form(request)
    supersede = form.get("supersede") == "yes"
    reason = str(form.get("reason") or "").strip()
    if supersede and not reason:
        raise Refused(400, word(request, "ledger.reason"))
    try:
        done = await anyio.to_thread.run_sync(ledger_ops.record, url, job.run, job.held, supersede,
                                              reason if supersede else "", subsidy_rules.__version__)
    except subsidy_rules.InvalidInput as exc:
        return render(request, "message.html", {"title": word(request, "ledger.not_recorded"), "message": "",
                                                "problems": shown_problems(exc.problems, {job.path: job.name})}, 409)
    except subsidy_rules.SubsidyError as exc:
        raise Refused(503, str(exc))
    job.recorded = done
    return render(request, "recorded.html", {"job": job, "done": done})


async def ledger_page(request: Request):
    viewer(request)
    state = request.app.state
    url = state.config.ledger
    if not url:
        return render(request, "message.html", {"title": word(request, "nav.ledger"), "message": word(request, "no_ledger")})

    def gather():
        out = {"runs": ledger_ops.runs(url)}
        out["verification"], out["display"] = ledger_ops.verify(url)
        try:
            out["report"] = ledger_ops.report(url, state.policy)
        except subsidy_rules.InvalidInput as exc:
            out["report"], out["report_problems"] = None, shown_problems(exc.problems)
        return out

    try:
        data = await anyio.to_thread.run_sync(gather)
    except subsidy_rules.InvalidInput as exc:
        raise Refused(409, word(request, "ledger.broken"), exc.problems)
    except subsidy_rules.SubsidyError as exc:
        raise Refused(503, str(exc))
    data["evaluations"] = {job.recorded.run_id: job for job in state.jobs.all()
                           if job.recorded is not None and job.state == J.DONE}
    return render(request, "ledger.html", data)


# --- a draft -------------------------------------------------------------------------------------------------------

async def draft_page(request: Request):
    user = viewer(request)
    state = request.app.state
    done = [j for j in state.jobs.all() if j.state == J.DONE]
    context = {"jobs": done, "may_upload": user is None or user.may("clerk"),
               "served": os.path.basename(state.policy.path)}
    if request.method == "GET":
        return render(request, "draft.html", context)
    uploader(request)
    form = await checked_form(request)
    path, name, _ = await save_upload(request, form.get("draft"), POLICY_EXTENSIONS)
    served = state.policy
    problem = _draft_parent(path, served)
    names = {path: name}
    if problem is not None:
        context["problems"] = shown_problems([problem], names)
        return render(request, "draft.html", context, 422)
    job = state.jobs.get(str(form.get("job") or ""))

    def compare():
        from ..tools.diff import payout_impact, policy_changes
        draft = subsidy_rules.load_policy(path)
        changes = policy_changes(served, draft)
        impact = None
        if job is not None and job.state == J.DONE:
            impact = payout_impact(subsidy_rules.evaluate(served, subsidy_rules.load_facts(job.path, served), trace=False),
                                   subsidy_rules.evaluate(draft, subsidy_rules.load_facts(job.path, draft), trace=False))
        return changes, impact

    try:
        changes, impact = await anyio.to_thread.run_sync(compare, limiter=state.limiter)
    except subsidy_rules.InvalidInput as exc:
        if job is not None:
            names[job.path] = job.name
        context["problems"] = shown_problems(exc.problems, names)
        return render(request, "draft.html", context, 422)
    context.update(name=name, changes=changes, impact=impact, job=job)
    if impact is not None:
        context["totals"] = {"before": impact.before.totals, "after": impact.after.totals}
    return render(request, "draft.html", context)


def _draft_parent(path: str, served) -> Optional[Problem]:
    """A draft that ``extends`` a parent may name only the served policy, by its file name: a copy of it is put
    beside the draft (nothing outside the data folder is read on an upload's say-so)."""
    import yaml
    try:
        with open(path, encoding="utf-8-sig") as fh:
            head = yaml.safe_load(fh)
    except Exception:  # the loader reports what is wrong with the file itself, with its location
        return None
    if not isinstance(head, dict) or "extends" not in head:
        return None
    base = os.path.basename(served.path)
    if head["extends"] != base or len(served.sources) != 1:
        return Problem("policy.extends", f"`extends: {head['extends']}`: a draft may extend only {base}", "/extends",
                       Location(path))
    shutil.copyfile(served.path, os.path.join(os.path.dirname(path), base))
    return None


def routes():
    return [
        Route("/", home),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/policy", policy_page),
        Route("/evaluate", evaluate_page, methods=["GET", "POST"]),
        Route("/evaluations/{job}", evaluation_page),
        Route("/evaluations/{job}/decision", decision_page),
        Route("/evaluations/{job}/subject", subject_page),
        Route("/evaluations/{job}/record", record_page, methods=["GET", "POST"]),
        Route("/evaluations/{job}/download/{kind}", download),
        Route("/ledger", ledger_page),
        Route("/draft", draft_page, methods=["GET", "POST"]),
    ]
