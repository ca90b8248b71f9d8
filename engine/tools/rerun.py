"""The run a decisions file records, made again: its facts' sha256, and its decisions a workshop at a time as (id,
text) pairs, the text the run writes. A JSON facts file is decided again a workshop at a time; YAML facts, and a run
that took its history from a ledger, in memory."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from ..facts.reading import load_facts
from ..runtime.decisions import Totals, period_key
from ..source import json_decoder
from ..views.document import decision_dict, decision_text

if TYPE_CHECKING:
    from ..facts.reading import Facts
    from ..ledger import Ledger
    from ..policy.model import Policy
    from ..runtime.stream import StreamHeader


class Fresh:
    """The run made again: its facts' sha256, and its decisions a workshop at a time as (id, text) pairs."""

    def __init__(self, policy: Policy, facts_path: str, ledger: Optional[Ledger], options: Dict[str, Any],
                 encoding: Optional[str] = None, progress: Optional[Callable[[int], None]] = None):
        self.policy, self.facts_path, self.ledger, self.options = policy, facts_path, ledger, options
        self.encoding = encoding
        self.progress = progress  # called with the bytes of the facts file decided again, as the run goes
        self.header: Optional[StreamHeader] = None
        self.facts: Optional[Facts] = None
        self.totals: Optional[Totals] = None
        if ledger is None and facts_path.endswith(".json"):
            from ..runtime.stream import StreamStopped, check_period, open_json
            try:
                header = open_json(facts_path)
                check_period(policy, header)
                self.header = header
            except StreamStopped:
                pass
        if self.header is None:
            self.facts = load_facts(facts_path, policy, self.encoding)
        source: Union[StreamHeader, Facts, None] = self.header or self.facts
        assert source is not None  # the facts are read whenever the stream's header is not
        self.sha256 = source.sha256
        self.period_end = source.period_end
        self.period = period_key(source.period_start, source.period_end)

    def in_memory(self) -> "Fresh":
        self.header = None
        self.facts = load_facts(self.facts_path, self.policy, self.encoding)
        return self

    def chunks(self) -> Iterator[List[Tuple[str, str]]]:
        """Each workshop's decisions as (id, text), in the order the run writes them; ``totals`` once all are out."""
        policy, options = self.policy, self.options
        if self.header is not None:
            from ..runtime.stream import decide_stream, read_workshops
            totals = Totals.of(())
            workshops = read_workshops(self.facts_path)
            if self.progress is not None:
                workshops = _told(workshops, self.progress, self.facts_path)
            # each trace built by the traced evaluation, not recorded in one pass as `evaluate` writes it: the
            # document is checked against the reference trace
            for part in decide_stream(policy, self.header, workshops, jobs=1, recorded=False, **options):
                totals = totals.merge(part.totals)
                yield [(id_of(text), text) for text in (t.decode("utf-8") for t in part.decisions)]
            self.totals = totals
            return
        evaluation = dict(options, trace=bool(options["trace"]))
        assert self.facts is not None  # read when the run is not streamed
        if self.ledger is not None:
            from ..ledger import evaluate_with_ledger
            run, _ = evaluate_with_ledger(self.ledger, policy, self.facts, **evaluation)
        else:
            from ..runtime.evaluate import evaluate
            run = evaluate(policy, self.facts, progress=_shares(self.progress, self.facts_path,
                                                                len(self.facts.workshops)), **evaluation)
        chunk: List[Tuple[str, str]] = []
        shop = None
        for d in run.decisions:
            if d.workshop != shop and chunk:
                yield chunk
                chunk = []
            shop = d.workshop
            text = decision_text(decision_dict(d, policy.sha256, self.period, options["trace"], policy.path))
            chunk.append((id_of(text), text))
        if chunk:
            yield chunk
        self.totals = run.totals


def _told(workshops: Iterator[Tuple[int, bytes]], progress: Callable[[int], None],
          path: str) -> Iterator[Tuple[int, bytes]]:
    """The workshops of a JSON facts file, each told to ``progress`` by its length in bytes as it is taken; the rest
    of the file (the period, the punctuation between workshops) once all are taken."""
    import os

    told = 0
    for index, raw in workshops:
        progress(len(raw))
        told += len(raw)
        yield index, raw
    progress(max(0, os.path.getsize(path) - told))


def _shares(progress: Optional[Callable[[int], None]], path: str, workshops: int) -> Optional[Callable[[int], None]]:
    """For a run decided in memory (which counts workshops), ``progress`` told the facts file's bytes instead: an
    equal share of its size for each workshop decided, the last share taking what is left."""
    import os

    if progress is None or not workshops or not os.path.isfile(path):
        return None
    size, done = os.path.getsize(path), [0, 0]

    def step(n: int) -> None:
        done[0] += n
        share = size if done[0] >= workshops else size * done[0] // workshops
        progress(share - done[1])
        done[1] = share

    return step


_ID = re.compile(r'"id": "([^"\\]*)"')


def id_of(text: str) -> str:
    match = _ID.search(text, 0, 200)
    return match.group(1) if match else json_decoder().decode(text).get("id")
