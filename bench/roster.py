"""How fast a roster workbook is read, and in how much memory: the county-scale facts of bench/generate.py as an
.xlsx (made by `subsidy facts convert`), read by `load_facts` as `evaluate` reads it. Prints its own figures.

    .venv/bin/python bench/roster.py                       # 300 workshops, 4,200 workers, ~41,000 month rows
    .venv/bin/python bench/roster.py --workshops 400 --workers 5000
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import subsidy_rules  # noqa: E402
from generate import write  # noqa: E402
from subsidy_rules.facts.convert import convert  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workshops", type=int, default=300)
    parser.add_argument("--workers", type=int, default=4200)
    args = parser.parse_args(argv)
    policy = subsidy_rules.load_policy(os.path.join(HERE, "..", "policies", "shanxi_2022.yaml"))
    with tempfile.TemporaryDirectory() as folder:
        source = os.path.join(folder, "facts.json")
        with open(source, "w", encoding="utf-8") as fh:
            write(fh, args.workshops, args.workers, 2022)
        book = os.path.join(folder, "roster.xlsx")
        started = time.perf_counter()
        convert(source, book, policy)
        written = time.perf_counter() - started
        started = time.perf_counter()
        facts = subsidy_rules.load_facts(book, policy)
        read = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rows = sum(1 + len(w.get("months") or ()) for ws in facts.workshops for w in ws.get("workers") or ())
    print(f"roster of {len(facts.workshops)} workshops, {rows:,} worker and month rows: written in {written:.1f} s, "
          f"read and checked in {read:.1f} s ({rows / read:,.0f} rows/s); peak memory {peak // 1024} MB")


if __name__ == "__main__":
    main()
