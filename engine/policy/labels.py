"""Labels: the words of a policy for people, which may quote its parameters.

A label quotes a parameter with a placeholder, ``{name}`` (or ``{name:%}`` for a ratio shown as a
percentage), filled with the value in force when the label is shown, so a fork that changes a threshold
changes the words too. The loader checks each label here: a placeholder must quote a parameter of one
number, a number a label states outside its placeholders must be one the parameters it reads hold, and a
sheet label must be a name a workbook can take.
"""
from __future__ import annotations

import datetime as _dt
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

from ..lang.strata import parameters_read
from ..lang.expr import Node
from ..lang.printing import format_value
from .parameters import Parameter, ParameterMissing, all_values
from ..problems import WARNING, Problem

if TYPE_CHECKING:
    from ..lang.compiler import Compiler
    from ..source import Document


#: A placeholder in a label that quotes a parameter: {name}, or {name:%} for a ratio shown as a percentage.
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)(:%)?\}")


def fill_label(text: str, parameters: Mapping[str, Parameter], day: _dt.date) -> str:
    """``text`` with each placeholder replaced by the parameter's value in force on ``day`` (left as written when the
    parameter has no single value then, so nothing is ever guessed)."""
    if not text or "{" not in text:
        return text

    def value_of(match: re.Match[str]) -> str:
        parameter = parameters.get(match.group(1))
        try:
            value = parameter.at(day).value if parameter is not None else None
        except ParameterMissing:
            value = None
        if value is None or isinstance(value, (dict, tuple)):
            return match.group(0)
        return format_value(value * 100) + "%" if match.group(2) else format_value(value)

    return PLACEHOLDER.sub(value_of, text)


def stated_numbers(text: Optional[str]) -> Iterator[Tuple[str, Decimal]]:
    """The numbers a label states outside its placeholders, as (text, value): "60%" gives 0.6."""
    bare = PLACEHOLDER.sub(" ", text or "")
    for match in re.finditer(r"[0-9]+(?:\.[0-9]+)?%?", bare):
        written = match.group(0)
        yield written, Decimal(written[:-1]) / 100 if written.endswith("%") else Decimal(written)


_SHEET_TITLE = re.compile(r"[^\[\]:*?/\\]{1,31}")


def label_problems(doc: Document, parts: Sequence[Mapping[str, Any]], compiler: Compiler,
                   parameters: Mapping[str, Parameter], data: Mapping[str, Any]) -> List[Problem]:
    """Each placeholder that quotes no single-number parameter (an error), each number a rule, condition or computed
    label states that none of the parameters it reads holds (a warning: a label quotes a threshold through its
    placeholder, so a fork that changes the value changes the words), and each sheet label a workbook cannot take."""
    out: List[Problem] = []

    def check(label: Optional[str], pointer: str, asts: Iterable[Node], lets: Dict[str, Node]) -> None:
        if not label:
            return
        for match in re.finditer(r"\{[^{}]*\}", label):
            if not PLACEHOLDER.fullmatch(match.group(0)):
                out.append(Problem("policy.label_placeholder", f"{match.group(0)} is not a placeholder: write "
                                   "{parameter_name}, or {parameter_name:%} for a ratio shown as a percentage",
                                   pointer, doc.locate(pointer)))
        for match in PLACEHOLDER.finditer(label):
            parameter = parameters.get(match.group(1))
            if parameter is None or parameter.keyed_by or parameter.table or parameter.type != "number":
                what = ("no such parameter" if parameter is None else
                        "it is not one number (keyed, a table or a date), so the label cannot quote it")
                out.append(Problem("policy.label_placeholder", f"the label quotes {{{match.group(1)}}}: {what}",
                                   pointer, doc.locate(pointer), hint="quote a parameter that holds one number"))
        used = set()
        for ast in asts:
            used |= parameters_read(ast, compiler.computed_asts, lets)
        supplied = {v for name in used if name in parameters for v in all_values(parameters[name])}
        for written, value in stated_numbers(label):
            if value not in supplied:
                out.append(Problem("policy.label_number", f"the label states {written}, which no parameter read here "
                                   f"holds ({', '.join(sorted(used)) or 'it reads none'})", pointer,
                                   doc.locate(pointer), WARNING,
                                   "quote the parameter instead, e.g. {" + (sorted(used)[0] if used else "name") +
                                   "} (or {name:%} for a ratio), so the words follow the value"))

    for part in parts:
        lets = {name: let.ast for name, let in part["lets"]}
        conditions = list(part["when"]) + (list(part["each"].where) if part["each"] else [])
        asts = [c.expr.ast for c in conditions] + [let.ast for _, let in part["lets"]] + \
            ([part["amount"].ast] if part["amount"] else [])
        check(data["rules"][part["index"]].get("label"), f"{part['pointer']}/label", asts, lets)
        for c in conditions:
            check(c.label, c.expr.pointer.rsplit("/", 1)[0] + "/label", [c.expr.ast], lets)
    for i, status in enumerate(data.get("statuses") or ()):
        check(status.get("label"), f"/statuses/{i}/label", [], {})
    for (kind, name), ast in compiler.computed_asts.items():
        check(((data.get("computed") or {}).get(kind) or {}).get(name, {}).get("label"), f"/computed/{kind}/{name}/label",
              [ast], {})
    for key, text in ((data.get("settings") or {}).get("labels") or {}).items():
        if key.startswith("sheet.") and not _SHEET_TITLE.fullmatch(text or ""):
            at = f"/settings/labels/{key}"
            out.append(Problem("policy.sheet_label", f"{text!r} cannot name a workbook sheet", at, doc.locate(at),
                               hint="1 to 31 characters, none of [ ] : * ? / \\"))
    return out
