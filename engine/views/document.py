"""The decisions document (semantics.md section 7): its header, each decision, the totals; written as it goes.

A decision's trace is data by default (:mod:`subsidy_rules.views.trace_data`: small objects that refer to the
policy by id, whose texts the header's ``dictionary`` holds once), or the rendered lines an auditor reads
(``lines``, :func:`subsidy_rules.views.explain.trace_lines`), or left out.

The text is written by orjson, indented by two spaces as ``json.dumps(document, ensure_ascii=False, indent=2)``
would, except that each entry of a trace written as data stands on one line, compact (an event per line, as
a rendered trace has a line per event). It is the same whether written whole (:func:`document_text`) or as it
goes (:func:`write_json`, :func:`decision_text`).

Pure functions over decisions; nothing here decides.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterable, Optional, Union

import orjson

from ..runtime.decisions import Decision, decision_id, period_key
from .explain import trace_lines
from .formats import money
from .trace_data import dictionary, trace_data

if TYPE_CHECKING:
    import datetime as _dt
    from typing import Callable

    from ..policy.model import Policy
    from ..runtime.decisions import Totals
    from ..runtime.evaluate import Evaluation

#: The ways a decision's trace is written: structured data (the default), rendered lines, or none.
TRACE_MODES = ("data", "lines")

TraceOption = Union[bool, str, None]


def trace_mode(with_trace: TraceOption) -> Optional[str]:
    """``"data"``, ``"lines"`` or None (no trace), from a trace option: True is data, False or None is none."""
    if with_trace is True:
        return "data"
    if not with_trace:
        return None
    if with_trace not in TRACE_MODES:
        raise ValueError(f"a trace is written as {' or '.join(TRACE_MODES)}, not {with_trace!r}")
    return with_trace


def decision_dict(d: Decision, policy_sha256: str, period: str, with_trace: TraceOption = True,
                  main_file: Optional[str] = None) -> Dict[str, Any]:
    """One decision as JSON. ``with_trace``: True or "data" (the trace as data), "lines", or False (none)."""
    out: Dict[str, Any] = {
        "id": decision_id(policy_sha256, period, d),
        "workshop": d.workshop, "worker": d.worker, "loan": d.loan,
        "rule": d.rule, "clause": d.clause, "outcome": d.outcome,
        "amount": money(d.shown_amount),
        "funding_source": d.fund,
    }
    out.update(details_dict(d))
    if d.reason:
        out["reason"] = d.reason
    mode = trace_mode(with_trace)
    if mode == "data":
        out["trace"] = list(d.data) + trace_data(d.events, d.reason) if d.data else trace_data(d.events, d.reason)
    elif mode == "lines":
        out["trace"] = trace_lines(d.events, main_file=main_file)
    return out


def details_dict(d: Decision) -> Dict[str, Any]:
    """What a decision states besides its amount, as JSON: a certification's route, basis, date and source; the day
    a revocation takes effect; the parameter values a pending decision waits for."""
    out: Dict[str, Any] = {}
    for name, value in d.details:
        if name == "waits_for":
            waits: Any = value  # ((parameter, date, key), ...)
            out[name] = [{"parameter": p, "date": day.isoformat(), "key": key} for p, day, key in waits]
        else:
            out[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return out


def totals_dict(totals: "Totals") -> Dict[str, Any]:
    out: Dict[str, Any] = {
        "granted": money(totals.granted),
        "by_funding_source": {k: money(v) for k, v in totals.by_funding_source.items()},
        "by_clause": {k: money(v) for k, v in totals.by_clause.items()},
    }
    if totals.waiting:
        out["pending"] = [{"parameter": p, "date": day.isoformat(), "key": key, "decisions": n}
                          for (p, day, key), n in totals.waiting.items()]
    return out


def _version() -> str:
    from .. import __version__
    return __version__


def json_header(policy: "Policy", facts_sha256: str, facts_path: str, start: "_dt.date", end: "_dt.date",
                backend: str, why_not: bool, trace: TraceOption, ran_at: str) -> Dict[str, Any]:
    """Everything in the decisions document before its decisions; with traces as data, the dictionary of the
    policy's texts they refer to."""
    mode = trace_mode(trace)
    header = {
        "policy": {"id": policy.id, "sha256": policy.sha256, "path": policy.path,
                   "files": [{"path": path, "sha256": sha} for path, sha in policy.sources]},
        "facts_sha256": facts_sha256,
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "run": {"tool": "subsidy-rules", "version": _version(), "ran_at": ran_at,
                "facts": facts_path, "why_not": why_not, "trace": mode or False},
        "engine": backend,
    }
    if mode == "data":
        header["dictionary"] = dictionary(policy, end)
    return header


_INDENT = orjson.OPT_INDENT_2


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=_INDENT)


def _laid_out(d: Dict[str, Any]) -> Dict[str, Any]:
    """A decision whose trace entries (objects, when the trace is data) are each written on one line."""
    trace = d.get("trace")
    if not trace or not isinstance(trace[0], dict):
        return d
    out = dict(d)
    out["trace"] = [orjson.Fragment(orjson.dumps(entry)) for entry in trace]
    return out


# a decision inside the document's list of decisions: its keys, its trace and its trace's entries indented so
_TRACE_OPENS = b',\n      "trace": [\n        '
_NEXT_ENTRY = b",\n        "
_TRACE_CLOSES = b"\n      ]\n    }"
_CLOSES = b"\n    }"


def decision_text(d: Dict[str, Any]) -> str:
    """One decision as it stands inside the decisions document's list (indented, no trailing comma)."""
    return decision_bytes(d).decode("utf-8")


def decision_bytes(d: Dict[str, Any]) -> bytes:
    """:func:`decision_text` in UTF-8, as a file is written (a province run writes hundreds of MiB of it). A trace
    written as data, the decision's last key, is joined in after the rest is laid out: the same text as orjson's
    layout of :func:`_laid_out`, without passing each entry through it again."""
    trace = d.get("trace")
    if trace and isinstance(trace[0], dict) and next(reversed(d)) == "trace":
        head = dict(d)
        del head["trace"]
        written = _dumps(head).replace(b"\n", b"\n    ")
        if written.endswith(_CLOSES):
            dumps = orjson.dumps
            return b"".join((written[:-len(_CLOSES)], _TRACE_OPENS, _NEXT_ENTRY.join([dumps(e) for e in trace]),
                             _TRACE_CLOSES))
    return _dumps(_laid_out(d)).replace(b"\n", b"\n    ")


def document_text(doc: Dict[str, Any]) -> str:
    """A whole decisions document (:func:`to_json`, with anything added to it) as text, ending with a newline."""
    decisions = doc.get("decisions")
    if isinstance(decisions, list):
        doc = dict(doc, decisions=[_laid_out(d) if isinstance(d, dict) else d for d in decisions])
    return _dumps(doc).decode("utf-8") + "\n"


def write_json(out: Any, header: Dict[str, Any], decision_texts: Iterable[Any],
               totals_of: "Callable[[], Totals]") -> None:
    """Write the decisions document as it goes: the header, each decision as it comes, then the totals.

    ``decision_texts`` are decisions already rendered by :func:`decision_text` (by worker processes,
    with --jobs). The text is the same as :func:`document_text` of the whole document. ``out`` is a text file, or
    a binary one when the decisions come as bytes.
    """
    head = _dumps(header).decode("utf-8")
    out.write(head[:-2] + ',\n  "decisions": [')
    first = True
    for text in decision_texts:
        out.write(("\n    " if first else ",\n    ") + text)
        first = False
    out.write("]" if first else "\n  ]")
    totals = _dumps(totals_dict(totals_of())).replace(b"\n", b"\n  ").decode("utf-8")
    out.write(f',\n  "totals": {totals}\n}}\n')


def to_json(evaluation: "Evaluation", with_trace: TraceOption = True) -> Dict[str, Any]:
    """The decisions document of semantics.md section 7. ``with_trace``: True or "data" (traces as data, with
    the dictionary), "lines" (rendered lines), or False (no traces)."""
    policy, facts = evaluation.policy, evaluation.facts
    period = period_key(facts.period_start, facts.period_end)
    mode = trace_mode(with_trace) if evaluation.trace else None
    doc = json_header(policy, facts.sha256, facts.path, facts.period_start, facts.period_end, evaluation.backend,
                      evaluation.why_not, mode, evaluation.ran_at)
    doc["decisions"] = [decision_dict(d, policy.sha256, period, mode, policy.path) for d in evaluation.decisions]
    doc["totals"] = totals_dict(evaluation.totals)
    return doc
