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
    """One condition, as the engine evaluates it on a worker's month: the reference closures (no tracer), the
    reference with a recording tracer, and the generated function."""
    import datetime as dt
    from decimal import Decimal

    from subsidy_rules import load_policy, schemas
    from subsidy_rules.facts.model import record_kinds
    from subsidy_rules.facts.reading import records_for
    from subsidy_rules.lang.codegen import CodegenInfo, generate_expression
    from subsidy_rules.lang.compiler import Compiler
    from subsidy_rules.lang.tracing import Recorder
    from subsidy_rules.source import read_file

    policy = load_policy(POLICY)
    compiler = Compiler(read_file(POLICY), record_kinds(schemas.load("facts")), dict(policy.parameters),
                        dict(policy.sets), {}, {})
    scope = compiler.scope_for("worker").child(month=compiler.scope_for("worker").names["worker"].__class__(
        "record", "month"))
    shop = {"id": "WS-1", "workers": [{"id": "W-1", "contract_months": 12,
                                       "months": [{"month": "2022-07", "income": Decimal(700)}]}]}
    rec = records_for(dt.date(2022, 7, 1), dt.date(2022, 12, 31), shop, "/workshops/0", False)
    worker = rec.children["workers"][0]
    month = worker.children["months"][0]
    env = dict(worker.env)
    env["month"] = month
    for text in ("worker.contract_months >= 6 and month.income < 0.5 * 1630",
                 'month.income < param("minimum_wage_floor_ratio", month.start) * '
                 'param("minimum_monthly_wage", month.start, 3)'):
        compiled = compiler.compile(text, "/rules/0/when/0", scope)
        assert compiled is not None, compiler.problems
        info = CodegenInfo(compiler.name_steps, policy.sets, policy.parameters, compiler.computed_asts)
        fast = generate_expression(compiled.ast, info, "worker", "month")
        recorder = Recorder()
        print(f"condition: {text}")
        with decimal.localcontext() as ctx:
            ctx.prec = 50
            assert fast(worker, month) == compiled.fn(env)
            for label, fn in (("reference closures, no tracer", lambda: compiled.fn(env)),
                              ("reference closures, recording", lambda: (compiled.traced(env, recorder),
                                                                        recorder.take())),
                              ("generated function", lambda: fast(worker, month))):
                n = 100000
                spent = min(timeit.repeat(fn, number=n, repeat=5))
                print(f"  {label:32}: {spent / n * 1e9:6.0f} ns")


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
