"""The pages: the policy, evaluate (an upload), the ledger and a draft policy, by the
words of the policy's labels. Handlers are thin: they check who asks, call the library (in a worker thread when
it may take long) and render a template."""
from __future__ import annotations

import dataclasses
import io
import json
import os
from decimal import Decimal
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple, Union
from urllib.parse import quote

import anyio
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

import subsidy_rules
from ..runtime.decisions import decision_id, period_key
from . import jobs as J
from . import ledger_ops
from .access import Refused, checked_form, recorder, render, shown_problems, uploader, viewer, word
from .policy_view import policy_view, rule_label
from .uploads import FACTS_EXTENSIONS, POLICY_EXTENSIONS, draft_parent, save_upload
from .security import csrf_token

if TYPE_CHECKING:
    from ..runtime.decisions import Decision
    from ..runtime.evaluate import Evaluation
    from ..tools.diff import Change, Impact


# --- login ------------------------------------------------------------------------------------------------------

async def login(request: Request) -> Response:
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


async def logout(request: Request) -> Response:
    await checked_form(request)
    request.session.clear()
    return RedirectResponse("/login", 303)


async def home(request: Request) -> Response:
    return RedirectResponse("/policy", 303)


# --- the policy -------------------------------------------------------------------------------------------------------

async def policy_page(request: Request) -> Response:
    viewer(request)
    policy = request.app.state.policy
    view = await anyio.to_thread.run_sync(policy_view, policy)
    return render(request, "policy.html", view)


# --- evaluate -------------------------------------------------------------------------------------------------------

async def evaluate_page(request: Request) -> Response:
    user = viewer(request)
    state = request.app.state
    if request.method == "POST":
        user = uploader(request)
        form = await checked_form(request)
        path, name, size = await save_upload(request, form.get("facts"), FACTS_EXTENSIONS)
        job = state.jobs.add(name, path, user.name if user else None, size)

        async def run() -> None:
            await anyio.to_thread.run_sync(state.jobs.run, job, state.policy, limiter=state.limiter)

        return RedirectResponse(f"/evaluations/{job.id}", 303, background=BackgroundTask(run))
    may_upload = user is None or user.may("clerk")
    return render(request, "evaluate.html", {"jobs": state.jobs.all(), "may_upload": may_upload})


def _job(request: Request) -> J.Job:
    job = request.app.state.jobs.get(request.path_params["job"])
    if job is None:
        raise HTTPException(404)
    return job


def summary(run: Evaluation) -> dict:
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


async def evaluation_page(request: Request) -> Response:
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


def _decision(job: J.Job, wanted: str) -> Decision:
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


async def decision_page(request: Request) -> Response:
    viewer(request)
    job = _done(_job(request))
    d = _decision(job, request.query_params.get("id", ""))
    run = job.run
    text = subsidy_rules.explain_text(run, [d]).replace(job.path, job.name)
    clause = run.policy.clauses[d.clause]
    return render(request, "decision.html", {"job": job, "d": d, "clause": clause, "explain": text,
                                             "rule_label": rule_label(run.policy, d.rule, run.facts.period_end)})


async def subject_page(request: Request) -> Response:
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

    def decide() -> Evaluation:
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


async def download(request: Request) -> Response:
    viewer(request)
    job = _done(_job(request))
    run = job.run
    kind = request.path_params["kind"]
    stem = os.path.splitext(job.name)[0]
    body: Union[str, bytes]
    if kind == "decisions.json":
        doc = subsidy_rules.to_json(run)
        body, media = json.dumps(doc, ensure_ascii=False, indent=2).replace(job.path, job.name) + "\n", "application/json"
    elif kind == "payouts.xlsx":
        from ..views.exports import workbook

        def save() -> bytes:
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

async def record_page(request: Request) -> Response:
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


async def ledger_page(request: Request) -> Response:
    viewer(request)
    state = request.app.state
    url = state.config.ledger
    if not url:
        return render(request, "message.html", {"title": word(request, "nav.ledger"), "message": word(request, "no_ledger")})

    def gather() -> Dict[str, object]:
        out: Dict[str, object] = {"runs": ledger_ops.runs(url)}
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

async def draft_page(request: Request) -> Response:
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
    problem = draft_parent(path, served)
    names = {path: name}
    if problem is not None:
        context["problems"] = shown_problems([problem], names)
        return render(request, "draft.html", context, 422)
    job = state.jobs.get(str(form.get("job") or ""))

    def compare() -> Tuple[List[Change], Optional[Impact]]:
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


def routes() -> List[Route]:
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
