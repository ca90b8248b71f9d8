"""Evaluations of uploaded facts, run off the event loop with their progress, kept in memory while the server runs.

A job reads the uploaded file, decides every workshop (with the ledger's history when the server has a ledger)
and keeps the evaluation for the pages that show it. It runs in a worker thread (a few at once, the rest
waiting their turn), so a long evaluation never blocks other users' pages; its page shows the stage it is at
and how long it has taken.
"""
from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, List, Optional, Tuple

import subsidy_rules
from ..problems import Location, Problem
from .config import WebConfig

if TYPE_CHECKING:
    from ..facts.reading import Facts
    from ..ledger.model import Held, RecordOutcome
    from ..policy.model import Policy
    from ..runtime.evaluate import Evaluation

KEEP = 200  # evaluations kept in memory; the oldest is forgotten first (its upload stays in the data folder)

QUEUED, READING, DECIDING, DONE, FAILED = "queued", "reading", "deciding", "done", "failed"


@dataclasses.dataclass
class Job:
    id: str
    name: str  # the uploaded file's name, as the person chose it
    path: str  # where the server keeps it, inside the data folder
    owner: Optional[str]
    size: int
    created: float = dataclasses.field(default_factory=time.time)
    state: str = QUEUED
    finished: Optional[float] = None
    workshops: int = 0
    # the Evaluation, once the job is DONE (read only then)
    run: Evaluation = None  # type: ignore[assignment]
    held: Optional[Held] = None  # the history it was decided on (with a ledger)
    problems: List[Problem] = dataclasses.field(default_factory=list)
    recorded: Optional[RecordOutcome] = None  # once recorded from this server
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    @property
    def elapsed(self) -> float:
        return (self.finished or time.time()) - self.created

    @property
    def busy(self) -> bool:
        return self.state in (QUEUED, READING, DECIDING)


class Jobs:
    def __init__(self, config: WebConfig):
        self.config = config
        self._jobs: "OrderedDict[str, Job]" = OrderedDict()
        self._lock = threading.Lock()

    def add(self, name: str, path: str, owner: Optional[str], size: int) -> Job:
        job = Job(secrets.token_hex(8), name, path, owner, size)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP:
                self._jobs.popitem(last=False)
        return job

    def get(self, job_id: str) -> Optional[Job]:
        with self._lock:
            return self._jobs.get(job_id)

    def all(self) -> List[Job]:
        with self._lock:
            return list(reversed(self._jobs.values()))

    def run(self, job: Job, policy: Policy) -> None:
        """Decide the job's facts (called in a worker thread). Problems are kept with the job, never raised."""
        try:
            job.state = READING
            facts = subsidy_rules.load_facts(job.path, policy)
            job.workshops = len(facts.workshops)
            job.state = DECIDING
            job.run, job.held = evaluate_facts(self.config, policy, facts, why_not=False)
            job.state = DONE
        except subsidy_rules.InvalidInput as exc:
            job.problems = list(exc.problems)
            job.state = FAILED
        except subsidy_rules.SubsidyError as exc:  # a ledger that cannot be reached, an engine limit
            job.problems = [Problem(f"{exc.fault}.failed", str(exc), "", Location(job.path))]
            job.state = FAILED
        finally:
            job.finished = time.time()


def evaluate_facts(config: WebConfig, policy: Policy, facts: Facts, why_not: bool = False
                   ) -> Tuple[Evaluation, Optional[Held]]:
    """The evaluation of ``facts`` and the history it was decided on: from the ledger when the server has one (as
    ``subsidy evaluate --ledger`` does), else as the facts state it. A run to record is made without why-not (as
    the CLI records it); a worker's page asks again, with why-not, for that one workshop."""
    if not config.ledger:
        return subsidy_rules.evaluate(policy, facts, why_not=why_not), None
    from ..ledger import evaluate_with_ledger, open_ledger
    ledger = open_ledger(config.ledger)
    try:
        return evaluate_with_ledger(ledger, policy, facts, why_not=why_not)
    finally:
        ledger.close()
