"""After the CI run of the suite: fail unless the JUnit XML shows that no test was skipped, none failed or
errored, and at least as many ran as the floor in .ci/min-tests (a floor that only rises; a lost test file
or a collection that quietly stopped short fails the run)."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def main(junit: Path, floor_file: Path) -> int:
    if not junit.exists():
        print(f"ci: {junit} was not written: the test run did not complete", file=sys.stderr)
        return 1
    root = ET.parse(junit).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = sum(int(s.get("tests", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    floor = int(floor_file.read_text().split()[0])
    problems = []
    if skipped:
        names = [
            f"{case.get('classname')}::{case.get('name')}"
            for case in root.iter("testcase")
            if case.find("skipped") is not None
        ]
        problems.append(f"{skipped} test(s) skipped: " + ", ".join(names[:20]))
    if failed:
        problems.append(f"{failed} test(s) failed or errored")
    if total - skipped < floor:
        problems.append(f"only {total - skipped} test(s) ran, fewer than the floor of {floor} in {floor_file}")
    for problem in problems:
        print(f"ci: {problem}", file=sys.stderr)
    if not problems:
        print(f"ci: {total} tests ran (floor {floor}), 0 skipped, 0 failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
