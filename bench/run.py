"""The province-scale benchmark: prints its figures; asserts nothing.

    python bench/run.py                  # the province target (2,000 workshops, 30,000 workers, 12 months) and 10x
    python bench/run.py --sizes 0.1      # a county-size quick look

For each size it generates the facts (seeded), then runs `subsidy evaluate` end to end, as a user
would, with full traces and without, and reports wall time, workers per second, microseconds per
worker-month and peak memory (RSS). On the province size it also times, in one process and on the
same parsed facts, the engine (traces off) against a straight-line plain-Python evaluation of the same
clauses (tests/reference.py, the independent reading the tests use as their oracle), and the
durable-rules backend. The machine's core count is printed beside the figures.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "bench"))

POLICY = os.path.join(ROOT, "policies", "shanxi_2022.yaml")
TARGETS = "targets: province year with traces < 10 s end to end; peak RSS < 1 GiB; engine <= 3x baseline; 10x in <= 11x the time"


def _generate(path: str, scale: float) -> tuple:
    import generate
    workshops, workers = max(1, round(2000 * scale)), max(5, round(30000 * scale))
    if not os.path.exists(path):
        with open(path, "w", encoding="utf-8") as fh:
            generate.write(fh, workshops, workers, 2022)
    worker_months = counted = 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            worker_months += line.count('"month":')
            counted += line.count('"categories":')
    return workshops, counted, worker_months


def _cli(args) -> tuple:
    """Run the CLI in a child process: (seconds, peak RSS of the children in MiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run([sys.executable, os.path.join(ROOT, "cli.py")] + args, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:  # the run's own report (pending decisions, on success) is not the benchmark's
        sys.exit(f"subsidy {' '.join(args)} failed:\n{done.stderr}")
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024


def _in_process(facts_path: str) -> None:
    import subsidy_rules
    from reference import decide

    policy = subsidy_rules.load_policy(POLICY)
    facts = subsidy_rules.load_facts(facts_path, policy)
    plain = {"period": {"start": facts.period_start, "end": facts.period_end}, "workshops": list(facts.workshops)}
    months = sum(len(w.get("months") or ()) for ws in facts.workshops for w in ws.get("workers") or ())
    workers = sum(len(ws.get("workers") or ()) for ws in facts.workshops)
    rows = []
    start = time.perf_counter()
    baseline = decide(plain)
    base = time.perf_counter() - start
    rows.append(("straight-line baseline", base, len(baseline)))
    for backend, trace in (("core", False), ("core", True), ("durable", False)):
        try:
            start = time.perf_counter()
            run = subsidy_rules.evaluate(policy, facts, backend=backend, trace=trace)
            rows.append((f"engine {backend}, traces {'on' if trace else 'off'}", time.perf_counter() - start,
                         sum(1 for d in run.decisions)))
        except ImportError:
            rows.append((f"engine {backend} (not installed)", float("nan"), 0))
    print(f"\nIn one process, on the same parsed facts ({workers} workers, {months} worker-months; loading excluded):")
    print(f"  {'evaluation':34} {'seconds':>8} {'µs/worker-month':>16} {'x baseline':>11} {'decisions':>10}")
    for name, seconds, count in rows:
        print(f"  {name:34} {seconds:8.2f} {seconds / months * 1e6:16.1f} {seconds / base:11.2f} {count:10}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,10", help="multiples of the province target, e.g. 0.1,1,10 (default 1,10)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: all cores)")
    parser.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "subsidy-bench"),
                        help="where the generated facts are kept between runs")
    args = parser.parse_args(argv)
    os.makedirs(args.dir, exist_ok=True)
    cores = os.cpu_count()
    print(f"machine: {platform.machine()}, {cores} cores, Python {platform.python_version()}, {platform.system()} "
          f"{platform.release()}")
    print(TARGETS)
    sizes = [float(s) for s in args.sizes.split(",")]
    timings = {}
    print(f"\nEnd to end (`subsidy evaluate POLICY FACTS -o out.json`, {args.jobs} jobs):")
    print(f"  {'size':>5} {'workshops':>9} {'workers':>8} {'traces':>6} {'seconds':>8} {'workers/s':>10} "
          f"{'µs/worker-month':>16} {'peak RSS MiB':>13}")
    for scale in sizes:
        path = os.path.join(args.dir, f"facts-{scale:g}.json")
        workshops, workers, months = _generate(path, scale)
        out = os.path.join(args.dir, "decisions.json")
        for trace in (True, False):
            extra = [] if trace else ["--no-trace"]
            seconds, rss = _cli(["evaluate", POLICY, path, "-o", out, "-q", "--jobs", str(args.jobs)] + extra)
            timings[(scale, trace)] = seconds
            print(f"  {scale:>5g} {workshops:9} {workers:8} {'on' if trace else 'off':>6} {seconds:8.1f} "
                  f"{workers / seconds:10.0f} {seconds / months * 1e6:16.1f} {rss:13.0f}")
        os.remove(out)
    if 1.0 in sizes and 10.0 in sizes:
        for trace in (True, False):
            print(f"  10x / 1x time, traces {'on' if trace else 'off'}: {timings[(10.0, trace)] / timings[(1.0, trace)]:.2f}")
    smallest = os.path.join(args.dir, f"facts-{min(sizes):g}.json")
    province = os.path.join(args.dir, "facts-1.json")
    _in_process(province if 1.0 in sizes else smallest)


if __name__ == "__main__":
    main()
