"""The rule engine alone, in one process: prints figures; asserts nothing.

    python bench/engine.py FACTS.json            # evaluation time on parsed facts, traces off and on
    python bench/engine.py --conditions          # the cost of one condition, as the engine runs it

The facts are read and checked once (not timed); then every workshop is decided with the core backend, traces off,
traces on (every decision's trace built), and with --why-not (every rule's trace). Generate a province-size file
with ``python bench/generate.py --workshops 2000 --workers 30000 -o /tmp/province.json``.
"""
from __future__ import annotations

import argparse
import decimal
import os
import sys
import time
import timeit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POLICY = os.path.join(ROOT, "policies", "shanxi_2022.yaml")


def _evaluation(facts_path: str, repeat: int) -> None:
    from subsidy_rules import load_policy
    from subsidy_rules.facts.reading import load_facts
    from subsidy_rules.runtime.evaluate import evaluate

    policy = load_policy(POLICY)
    start = time.process_time()
    facts = load_facts(facts_path, policy)
    print(f"facts read and checked: {time.process_time() - start:.2f} s CPU (not counted below); "
          f"{len(facts.workshops)} workshops")
    for label, kwargs in (("traces off", dict(trace=False)), ("traces on", dict(trace=True)),
                          ("--why-not", dict(trace=True, why_not=True))):
        best = None
        for _ in range(repeat):
            start = time.process_time()
            run = evaluate(policy, facts, **kwargs)
            spent = time.process_time() - start
            best = spent if best is None else min(best, spent)
        print(f"evaluate, {label:10}: {best:6.2f} s CPU  ({len(run.decisions)} decisions, granted {run.totals.granted})")


def _conditions() -> None:
    """One condition of the bundled policy's kind, as the engine evaluates it on a worker month."""
    from subsidy_rules import load_policy
    from subsidy_rules.facts.reading import records_for
    import datetime as dt

    policy = load_policy(POLICY)
    shop = {"id": "WS-1", "name": "x", "city": "c", "county": "k", "wage_area": 3, "entity_type": "enterprise",
            "workers": [{"id": "W-1", "categories": ["poverty_alleviated"], "hired_on": dt.date(2022, 1, 1),
                         "contract_months": 12, "months": [{"month": "2022-07", "income": decimal.Decimal(700)}]}]}
    text = "worker.contract_months >= 6 and month.income < 0.5 * 1630"
    from subsidy_rules.lang import expr as X
    print(f"condition: {text}")
    compiled = _compile_one(policy, text)
    if compiled is None:
        return
    rec = records_for(dt.date(2022, 7, 1), dt.date(2022, 12, 31), _typed(shop), "/workshops/0", False)
    worker = rec.children["workers"][0]
    month = worker.children["months"][0]
    env = dict(worker.env)
    env["month"] = month
    with decimal.localcontext() as ctx:
        ctx.prec = 50
        for label, fn in _variants(compiled, env, month):
            n = 200000
            spent = min(timeit.repeat(fn, number=n, repeat=5))
            print(f"  {label:34}: {spent / n * 1e9:6.0f} ns")
    del X


def _typed(shop):
    return shop


def _compile_one(policy, text):
    """The condition compiled as a rule's `where` would be (the worker scope, with a month as the item)."""
    try:
        from subsidy_rules.lang.compiler import compile_probe
    except ImportError:
        print("  (this version has no compile_probe: nothing to measure)")
        return None
    return compile_probe(policy, text, "worker", {"month": "month"})


def _variants(compiled, env, month):
    out = [("reference (closures, no tracer)", lambda: compiled.fn(env))]
    fast = getattr(compiled, "fast", None)
    if fast is not None:
        worker = env["worker"]
        out.append(("generated function", lambda: fast(worker, month)))
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("facts", nargs="?")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--conditions", action="store_true")
    args = parser.parse_args(argv)
    with decimal.localcontext():
        if args.facts:
            _evaluation(args.facts, args.repeat)
        if args.conditions:
            _conditions()


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    main()
