"""Run the subsidy CLI in a process of its own, optionally pausing inside the ledger's write transaction.

    python tests/ledger_process.py [--pause FILE SECONDS [--until FILE]] [--arrived FILE] [--no-python-check] -- ARGS...

--pause: once the run's rows are written but before the transaction commits, create FILE and sleep
SECONDS (a test then kills the process, or starts a rival recording); with --until, sleep only until
that file exists (at most SECONDS), then two seconds more, so a rival that has reached the ledger is
waiting on its lock however slowly it started. --arrived: create FILE as the run starts recording.
--no-python-check: skip the Python check for once-only payments, so only the database's unique
constraint stands in the way.
"""
import os
import sys
import time


from subsidy_rules.ledger import recording, refusals  # noqa: E402
from subsidy_rules.ledger.store import Ledger  # noqa: E402


def main(argv):
    split = argv.index("--")
    options, args = argv[:split], argv[split + 1:]
    if "--pause" in options:
        i = options.index("--pause")
        marker, seconds = options[i + 1], float(options[i + 2])
        until = options[options.index("--until") + 1] if "--until" in options else None
        append = recording._append

        def paused(*a, **k):
            result = append(*a, **k)
            with open(marker, "w") as fh:
                fh.write(str(os.getpid()))
            if until is None:
                time.sleep(seconds)
            else:
                deadline = time.monotonic() + seconds
                while not os.path.exists(until) and time.monotonic() < deadline:
                    time.sleep(0.05)
                time.sleep(2)
            return result
        recording._append = paused
    if "--arrived" in options:
        arrived = options[options.index("--arrived") + 1]
        record = Ledger.record

        def arriving(self, *a, **k):
            with open(arrived, "w") as fh:
                fh.write(str(os.getpid()))
            return record(self, *a, **k)
        Ledger.record = arriving
    if "--no-python-check" in options:
        refusals.check_once = lambda *a, **k: None
    import subsidy_rules.cli as cli
    cli.main(args, prog_name="subsidy")


if __name__ == "__main__":
    main(sys.argv[1:])
