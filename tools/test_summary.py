#!/usr/bin/env python
"""Print the summary table at the end of ``bash dev.sh test``: per suite, how many passed, skipped, failed.

    python tools/test_summary.py .cache/test-reports --total-seconds 812

Reads the JUnit XML files that pytest wrote (``pytest.xml`` for the test suite, ``notebooks.xml`` for nbval,
where each notebook is one file of cells).
"""

from __future__ import annotations

import argparse
import xml.etree.ElementTree as ET
from pathlib import Path

SUITES = {"pytest.xml": "tests", "notebooks.xml": "notebooks"}


def suite_counts(report: Path) -> dict:
    cases = ET.parse(report).getroot().iter("testcase")
    counts = {"passed": 0, "skipped": 0, "failed": 0, "seconds": 0.0, "files": set()}
    for case in cases:
        counts["seconds"] += float(case.get("time", 0))
        counts["files"].add(case.get("file") or case.get("classname", "").split("::")[0])
        if case.find("skipped") is not None:
            counts["skipped"] += 1
        elif case.find("failure") is not None or case.find("error") is not None:
            counts["failed"] += 1
        else:
            counts["passed"] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", type=Path)
    parser.add_argument("--total-seconds", type=int, default=None)
    args = parser.parse_args()
    print(f"\n{'suite':<10} {'files':>5} {'cases':>6} {'passed':>7} {'skipped':>8} {'failed':>7} {'time':>8}")
    for file_name, suite in SUITES.items():
        report = args.reports / file_name
        if not report.is_file():
            continue
        c = suite_counts(report)
        cases = c["passed"] + c["skipped"] + c["failed"]
        print(
            f"{suite:<10} {len(c['files']):>5} {cases:>6} {c['passed']:>7} {c['skipped']:>8} {c['failed']:>7} "
            f"{c['seconds'] / 60:>6.1f} m"
        )
    if args.total_seconds is not None:
        print(
            f"dev.sh test: all suites passed in {args.total_seconds // 60} min {args.total_seconds % 60} s "
            "(lint, tests and notebooks)"
        )


if __name__ == "__main__":
    main()
