"""JUnit XML reports (pytest, jest-junit, gradle...) into a :class:`TestReport`."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from shipdeck.lifecycle.errors import ShipdeckError
from shipdeck.lifecycle.items import TestReport


class JunitError(ShipdeckError, ValueError):
    """The report is missing or not JUnit XML."""


def _name(case: ET.Element) -> str:
    cls = case.get("classname") or ""
    name = case.get("name") or "?"
    return f"{cls}::{name}" if cls else name


def parse_junit(path: Path) -> TestReport:
    """Counts and failing test names; raises JunitError for a missing or bad file."""
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise JunitError(f"{path}: no JUnit report was written") from None
    except (ET.ParseError, OSError) as exc:
        raise JunitError(f"{path}: not JUnit XML ({exc})") from None
    suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
    report = TestReport()
    for suite in suites:
        for case in suite.findall("testcase"):
            if case.find("failure") is not None:
                report.failed += 1
                report.failures.append(_name(case))
            elif case.find("error") is not None:
                report.errors += 1
                report.failures.append(_name(case))
            elif case.find("skipped") is not None:
                report.skipped += 1
            else:
                report.passed += 1
    if root.tag not in ("testsuite", "testsuites"):
        raise JunitError(f"{path}: not JUnit XML (root element <{root.tag}>)")
    return report
