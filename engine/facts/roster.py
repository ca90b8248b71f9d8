"""Checked facts from a roster (a workbook or a folder of CSV files), with every problem at its cell."""
from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Callable, FrozenSet, Optional, Tuple

from ..locale import language, localize
from ..policy.model import Policy
from ..problems import InvalidInput, Problem, pointer_join
from ..source import Document
from .hints import enrich
from .workbook import read_roster, roster_sha256

if TYPE_CHECKING:
    from .reading import Facts

_MISSING = re.compile(r"missing required field '([^']+)'")


def load_roster(path: str, policy: Policy, encoding: Optional[str] = None,
                progress: Optional[Callable[[int], None]] = None) -> "Facts":
    """The facts of the roster at ``path``, checked as a YAML or JSON file's are; InvalidInput with every problem,
    each at its sheet, row and column, in the policy's language."""
    from .reading import check_facts
    doc, problems, gaps = read_roster(path, policy, encoding, progress)
    facts: Optional[Facts] = None
    if isinstance(doc.data, dict) and "period" in doc.data:
        try:
            facts = check_facts(doc, policy)
        except InvalidInput as exc:
            # one message a slip: a cell the reader refused (a formula without a value) is not missing as well, nor
            # is each row's value of a required column the sheet lacks (the missing column is said once)
            refused = {p.location for p in problems}
            problems = problems + [p for p in (_at_cell(doc, p) for p in exc.problems)
                                   if p.location not in refused and not _in_gap(p, gaps)]
    lang = language(policy)
    if problems:
        raise InvalidInput(localize(enrich(problems, doc.data, lang), lang))
    assert facts is not None  # no problem found: the facts were checked
    return dataclasses.replace(facts, sha256=roster_sha256(path))


def _in_gap(problem: Problem, gaps: FrozenSet[Tuple[str, str]]) -> bool:
    """A missing value in a column its sheet lacks altogether."""
    match = _MISSING.search(problem.message)
    sheet = getattr(problem.location, "sheet", None)
    return match is not None and (sheet, match.group(1).rsplit("/", 1)[-1]) in gaps


def _at_cell(doc: Document, problem: Problem) -> Problem:
    """A missing field is reported at its (blank) cell, not at the start of the row."""
    match = _MISSING.search(problem.message)
    if match is None:
        return problem
    at = pointer_join(problem.pointer, match.group(1))
    loc = (doc.positions or {}).get(at)
    return problem if loc is None else dataclasses.replace(problem, location=loc)
