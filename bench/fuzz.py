"""A long run of the property tests (tests/test_fuzz.py): the same properties CI checks, on many more examples.

    .venv/bin/python bench/fuzz.py            # 30 times CI's examples (about ten minutes)
    .venv/bin/python bench/fuzz.py --scale 5  # a shorter run

Prints pytest's report; a failure shows the smallest input Hypothesis found, which belongs in a regression test.
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=30.0, help="times the examples CI runs (default 30)")
    args = parser.parse_args()
    env = dict(os.environ, SUBSIDY_FUZZ_SCALE=str(args.scale))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "fuzz", "tests/test_fuzz.py"]
    print("+", " ".join(command), f"(SUBSIDY_FUZZ_SCALE={args.scale})", flush=True)
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
