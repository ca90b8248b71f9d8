"""The county report's figures: size, pages printed on A4 and time to open in a browser; asserts nothing.

    python bench/report.py                       # a county of 50 workshops (750 workers), seeded
    python bench/report.py --workshops 200 --workers 3000

Generates the facts (bench/generate.py), writes the HTML report with `subsidy evaluate --format html` as a user
would, prints it to PDF with Debian's headless Chromium and counts the pages (pypdf), and times opening it by
the browser's own clock: a copy of the report with a probe script (the report itself has none) records, at the
load event and with the page laid out, the milliseconds since navigation started; the median of five runs. Budget
(issue 15): at most 40 A4 pages and under 2 s to open, for 50 workshops.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
POLICY = os.path.join(ROOT, "policies", "shanxi_2022.yaml")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


PROBE = ('<script>addEventListener("load", () => { document.body.getBoundingClientRect(); '
         'document.documentElement.setAttribute("data-opened", Math.round(performance.now())); })</script>')


def _chromium(*args: str) -> str:
    done = subprocess.run([shutil.which("chromium") or "chromium", *FLAGS, *args], check=True, capture_output=True,
                          text=True)
    return done.stdout


def _opened(html: str) -> float:
    """Seconds from navigation to the load event with the page laid out (the probe forces layout), as the page's
    own clock says."""
    dom = _chromium("--window-size=1280,1000", "--dump-dom", "file://" + html)
    found = re.search(r'data-opened="([0-9]+)"', dom)
    if not found:
        raise SystemExit("the probe did not report: the page did not finish loading")
    return int(found.group(1)) / 1000


def main() -> None:
    import generate
    from pypdf import PdfReader

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workshops", type=int, default=50)
    parser.add_argument("--workers", type=int, default=750)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    subsidy = os.path.join(os.path.dirname(sys.executable), "subsidy")
    with tempfile.TemporaryDirectory() as folder:
        facts, html, pdf = (os.path.join(folder, name) for name in ("county.json", "report.html", "report.pdf"))
        empty = os.path.join(folder, "empty.html")
        with open(facts, "w", encoding="utf-8") as fh:
            generate.write(fh, args.workshops, args.workers, 2022)
        start = time.perf_counter()
        subprocess.run([subsidy, "evaluate", POLICY, facts, "--format", "html", "-o", html, "-q"], check=True,
                       capture_output=True)
        made = time.perf_counter() - start
        _chromium(f"--print-to-pdf={pdf}", "--no-pdf-header-footer", "file://" + html)
        pages = len(PdfReader(pdf).pages)
        probe = os.path.join(folder, "probe.html")
        with open(html, encoding="utf-8") as fh, open(probe, "w", encoding="utf-8") as out:
            out.write(fh.read().replace("</body>", PROBE + "</body>"))
        with open(empty, "w", encoding="utf-8") as fh:
            fh.write(f"<!DOCTYPE html><html><body>{PROBE}</body></html>")
        times = sorted(_opened(probe) for _ in range(args.runs))
        bare = statistics.median(_opened(empty) for _ in range(args.runs))
        size = os.path.getsize(html)
    print(f"county of {args.workshops} workshops, {args.workers} workers; {os.cpu_count()} cores")
    print(f"  report written in {made:.2f} s (evaluate and render), {size / 1e6:.2f} MB")
    print(f"  printed on A4: {pages} pages (budget 40 for 50 workshops)")
    print(f"  opened in Chromium: {statistics.median(times):.2f} s to load, laid out (median of "
          f"{args.runs}; fastest {times[0]:.2f} s, slowest {times[-1]:.2f} s; an empty page {bare:.2f} s; budget 2 s)")


if __name__ == "__main__":
    main()
