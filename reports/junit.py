"""JUnit XML for CI systems: one test suite per platform, one test case per check and endpoint.

Failures fail; waived failures and skips are skipped (with the reason); errors are errors (the
check could not run); warnings pass with the warning in system-out, so they never fail a build.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence

from reports.i18n import CheckTexts
from reports.placeholders import endpoint_host, fill
from scanner.model import Result, Status
from scanner.waivers import Waiver

# XML 1.0 cannot carry most control characters; a server can put them in anything we quote.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def render(
    results: Sequence[Result],
    texts: CheckTexts,
    names: Mapping[str, str] | None = None,
    waivers: Mapping[tuple[str, str, str], Waiver] | None = None,
) -> str:
    """``results`` in the language of ``texts``: a failure is named by its finding, never its title."""
    names = names or {}
    waivers = waivers or {}
    by_platform: dict[str, list[Result]] = {}
    for result in results:
        by_platform.setdefault(result.platform, []).append(result)
    root = ET.Element("testsuites", name="platscan")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for platform in sorted(by_platform):
        own = sorted(by_platform[platform], key=lambda r: (r.check, r.endpoint))
        suite = ET.SubElement(root, "testsuite", name=f"{platform}: {names.get(platform, platform)}")
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for result in own:
            counts["tests"] += 1
            case = ET.SubElement(
                suite,
                "testcase",
                name=_xml(f"{result.check} [{result.endpoint}]"),
                classname=f"platscan.{platform}.{result.check.split('.', 1)[0]}",
                time=f"{result.duration:.3f}",
            )
            waiver = waivers.get((result.platform, result.check, result.endpoint))
            detail = texts.detail(result)
            if result.status == Status.FAIL and waiver is None:
                counts["failures"] += 1
                text = texts.get(result.check, result.title, result.remediation)
                failure = ET.SubElement(case, "failure", message=_xml(detail), type=result.severity.value)
                remediation = fill(text.remediation, platform, endpoint_host(result.endpoint))
                failure.text = _xml(f"{text.failure}\n\n{detail}\n\n{texts.t('how_to_fix')}:\n{remediation}")
            elif result.status == Status.ERROR:
                counts["errors"] += 1
                ET.SubElement(case, "error", message=_xml(detail), type="could-not-scan")
            elif result.status == Status.SKIP or waiver is not None:
                counts["skipped"] += 1
                message = (
                    texts.t("junit_waived", reason=waiver.reason, by=waiver.approved_by, until=waiver.expires)
                    if waiver
                    else detail
                )
                ET.SubElement(case, "skipped", message=_xml(message))
            elif result.status == Status.WARN:
                ET.SubElement(case, "system-out").text = _xml(
                    texts.t("junit_warning", severity=texts.t(f"severity.{result.severity.value}"), detail=detail)
                )
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
