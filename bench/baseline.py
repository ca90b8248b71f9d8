"""The straight-line baseline: the same policy read by hand, doing the same reading and writing as `subsidy evaluate`.

    python bench/baseline.py FACTS.json -o decisions.json

Decodes the facts file with the standard library (numbers with a fraction as Decimal, never float), turns
the dates it reads into dates, decides every workshop with tests/reference.py (the independent,
straight-line reading of the measures the tests use as their oracle) and writes a decisions document of
the same shape as the engine's (a header, one object per decision, the totals), with no traces. This is
what code written by hand for this one policy costs; bench/run.py compares the engine with it.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from decimal import Decimal

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))

from reference import decide  # noqa: E402

def _date(text):
    return dt.date.fromisoformat(text) if isinstance(text, str) else text


def _dates(ws: dict) -> dict:
    for key in ("certification", "revocation"):
        if ws.get(key):
            ws[key]["on"] = _date(ws[key]["on"])
    for loan in ws.get("loans") or ():
        loan["start"] = _date(loan["start"])
    for w in ws.get("workers") or ():
        for key in ("birth_date", "hired_on", "left_on"):
            if w.get(key):
                w[key] = _date(w[key])
        training = w.get("training")
        if training and training.get("completed_on"):
            training["completed_on"] = _date(training["completed_on"])
    return ws


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("facts")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args(argv)
    with open(args.facts, encoding="utf-8") as fh:
        facts = json.load(fh, parse_float=Decimal)
    period = {"start": _date(facts["period"]["start"]), "end": _date(facts["period"]["end"])}
    granted = Decimal("0.00")
    by_clause: dict = {}
    with open(args.output, "w", encoding="utf-8") as out:
        out.write(json.dumps({"period": {k: v.isoformat() for k, v in period.items()}}, indent=2)[:-2])
        out.write(',\n  "decisions": [')
        first = True
        for ws in facts.get("workshops") or ():
            for workshop, worker, loan, clause, outcome, amount in decide({"period": period, "workshops": [_dates(ws)]}):
                decision = {"workshop": workshop, "worker": worker, "loan": loan, "clause": clause, "outcome": outcome,
                            "amount": None if amount is None else f"{amount:.2f}",
                            "funding_source": None}
                out.write(("\n    " if first else ",\n    ")
                          + json.dumps(decision, ensure_ascii=False, indent=2).replace("\n", "\n    "))
                first = False
                if outcome == "granted" and amount is not None:
                    granted += amount
                    by_clause[clause] = by_clause.get(clause, Decimal("0.00")) + amount
        totals = {"granted": f"{granted:.2f}", "by_clause": {k: f"{v:.2f}" for k, v in sorted(by_clause.items())}}
        out.write("]" if first else "\n  ]")
        out.write(',\n  "totals": ' + json.dumps(totals, indent=2).replace("\n", "\n  ") + "\n}\n")


if __name__ == "__main__":
    main()
