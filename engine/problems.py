"""Located problems: the one error type carried from reader to parser to report.

A :class:`Problem` is a value, never a crash: a stable ``code``, a message, the
JSON pointer of the offending value and the :class:`Location` (file, line,
column) it came from. Loaders collect every problem they find and raise one
:class:`InvalidInput` carrying all of them, sorted.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union


@dataclass(frozen=True, order=True)
class Location:
    """Where a value stands in its source file (1-based line and column)."""

    file: str = ""
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file or "<input>"
        return f"{self.file}:{self.line}:{self.col}"

    def details(self) -> Dict[str, str]:
        """What a kind of place adds to file, line and column in a machine's report (a roster: sheet, cell, header)."""
        return {}

    def order_key(self) -> Tuple[Any, ...]:
        """Where it comes in a sorted report: by file, then line and column (a roster's cell: by sheet in the roster's
        order, then row and column); the second place is the sheet's (0: the file's own)."""
        return (self.file, 0, self.line, self.col)


ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a policy or facts file."""

    code: str
    message: str
    pointer: str = ""
    location: Location = field(default_factory=Location)
    severity: str = ERROR
    hint: Optional[str] = None

    def sort_key(self) -> Tuple[Any, ...]:
        return (*self.location.order_key(), self.pointer, self.code, self.message)

    def to_dict(self) -> dict:
        d = {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "pointer": self.pointer,
            "file": self.location.file,
            "line": self.location.line,
            "col": self.location.col,
        }
        d.update(self.location.details())
        if self.hint:
            d["hint"] = self.hint
        return d

    def __str__(self) -> str:
        text = f"{self.location}: {self.severity}[{self.code}] {self.message}"
        if self.pointer and not self.location.details():  # a roster's cell says where, as its clerk sees it
            text += f" (at {self.pointer})"
        if self.hint:
            text += f"; {self.hint}"
        return text


def sort_problems(problems: Iterable[Problem]) -> List[Problem]:
    """Sorted and de-duplicated, so a report is stable from run to run."""
    seen = set()
    out: List[Problem] = []
    for p in sorted(problems, key=Problem.sort_key):
        key = p.sort_key()
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


class SubsidyError(Exception):
    """The base of every exception the library raises on purpose. ``fault`` says whose it is to mend:
    ``input`` (a policy or facts file: a person can correct it), ``usage`` (the command line as typed),
    ``ledger`` (the payout ledger's database: unreachable or damaged) or ``engine`` (a limit or failure of the tool
    or a backend)."""

    fault = "engine"


class InputFault(SubsidyError):
    """Something in a policy or facts file (or what it makes the rules compute)."""

    fault = "input"


class UsageFault(SubsidyError):
    """The command line as typed (an argument missing, an option unknown): the one who typed it can correct it."""

    fault = "usage"


class LedgerFault(SubsidyError):
    """The payout ledger's database: not there, not reachable, or not as recorded."""

    fault = "ledger"


class EngineFault(SubsidyError):
    """A backend or the tool itself could not be trusted with the run."""

    fault = "engine"


class InvalidInput(InputFault):
    """Raised once, with every problem found, when input cannot be used."""

    def __init__(self, problems: Iterable[Problem], positions: Optional[Dict[str, Location]] = None):
        self.problems = sort_problems(problems)
        self.positions = positions  # where each value stood, when the file could be read that far
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def errors(self) -> List[Problem]:
        return [p for p in self.problems if p.severity == ERROR]


def pointer_join(pointer: str, key: Union[str, int]) -> str:
    """Append one reference token to a JSON pointer (RFC 6901 escaping)."""
    token = str(key).replace("~", "~0").replace("/", "~1")
    return f"{pointer}/{token}"
