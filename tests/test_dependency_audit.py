"""scripts/dependency_audit.py: how pip-audit's report is judged (a new finding fails, a
listed one with its reason passes, an unreachable service is reported, never taken as clean)."""

from __future__ import annotations

import importlib.util

from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("dependency_audit", ROOT / "scripts" / "dependency_audit.py")
audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit)

GATEWAY = ROOT / "requirements" / "gateway.lock"
REPORT = {"dependencies": [
    {"name": "jinja2", "version": "3.1.2", "vulns": [{"id": "GHSA-h5c8-rqwp-cp95", "aliases": ["CVE-2024-22195"],
                                                     "fix_versions": ["3.1.3"]}]},
    {"name": "fastapi", "version": "0.165.0", "vulns": []},
    {"name": "torch", "skip_reason": "Dependency not found on PyPI and could not be audited: torch (2.13.0+cpu)"},
]}


def test_new_finding_is_unexplained_and_listed_one_carries_its_reason():
    fresh = audit.summarise(GATEWAY, REPORT, known={}, report_only={})
    assert fresh["audited"] == 2 and fresh["not_audited"] == ["torch==2.13.0+cpu"]
    assert [(f["id"], f["known_reason"]) for f in fresh["findings"]] == [("GHSA-h5c8-rqwp-cp95", None)]
    listed = audit.summarise(GATEWAY, REPORT, known={"CVE-2024-22195": "sandbox not used"}, report_only={})
    assert listed["findings"][0]["known_reason"] == "sandbox not used"  # found by its alias
    rasa = audit.summarise(ROOT / "requirements" / "rasa.lock", REPORT, known={},
                           report_only={"rasa.lock": "loopback only"})
    assert rasa["findings"][0]["known_reason"] == "loopback only"


def test_known_findings_file_is_valid_and_every_entry_has_a_reason():
    known, report_only = audit.known_findings()
    assert all(reason.strip() for reason in [*known.values(), *report_only.values()])
    assert set(report_only) <= {lock.name for lock in audit.LOCKS}



def _result(lock: str, audited: int, unchecked: int, findings: list | None = None) -> dict:
    return {"lock": lock, "audited": audited, "not_audited": [f"p{i}==1" for i in range(unchecked)],
            "findings": findings or []}


def test_nothing_checked_is_said_plainly_and_is_not_a_pass():
    offline = [_result("gateway.lock", 0, 134), _result("rasa.lock", 0, 184)]
    code, lines = audit.judge(offline, allow_offline=False)
    text = "\n".join(lines)
    assert code == audit.OFFLINE_EXIT and "audit: could not check 318 of 318 packages" in text
    assert "FAILED" in text
    code, lines = audit.judge(offline, allow_offline=True)  # an offline CI that says so
    assert code == 0 and "NOT a pass" in "\n".join(lines) and "could not check 318" in "\n".join(lines)
    # A local build pip-audit cannot look up (torch "+cpu") is counted, but the lock was checked.
    code, lines = audit.judge([_result("gateway.lock", 133, 1)], allow_offline=False)
    assert code == 0 and "could not check 1 of 134 packages" in "\n".join(lines)
    # One lock unreachable while the other was checked: still not a pass.
    assert audit.judge([_result("gateway.lock", 134, 0), _result("package-lock.json", 0, 3)], False)[0] == 3


def test_a_new_finding_fails_even_offline_allowed():
    new = {"package": "jinja2", "version": "3.1.2", "id": "GHSA-x", "fix_versions": [], "known_reason": None}
    assert audit.judge([_result("gateway.lock", 2, 0, [new]), _result("rasa.lock", 0, 5)], True)[0] == 1


NPM_REPORT = {"auditReportVersion": 2, "vulnerabilities": {
    "leaflet": {"name": "leaflet", "severity": "moderate", "via": [
        {"source": 1099999, "name": "leaflet", "title": "XSS", "url": "https://github.com/advisories/GHSA-abcd-1234-wxyz",
         "severity": "moderate", "range": "<1.9.5"}]},
    "chart.js": {"name": "chart.js", "severity": "moderate", "via": ["leaflet"]}}}


def test_npm_lock_is_covered():
    packages = audit.npm_packages()
    assert {"axe-core", "chart.js", "leaflet"} <= set(packages)  # package-lock.json, not a guess
    checked = audit.summarise_npm(NPM_REPORT, packages, known={}, report_only={})
    assert checked["audited"] == len(packages) and checked["not_audited"] == []
    assert [(f["package"], f["id"], f["known_reason"]) for f in checked["findings"]] == [
        ("leaflet", "GHSA-abcd-1234-wxyz", None)]
    listed = audit.summarise_npm(NPM_REPORT, packages, known={"GHSA-abcd-1234-wxyz": "map tiles only"}, report_only={})
    assert listed["findings"][0]["known_reason"] == "map tiles only"
    unreachable = audit.summarise_npm(None, packages, known={}, report_only={})
    assert unreachable["audited"] == 0 and len(unreachable["not_audited"]) == len(packages)
