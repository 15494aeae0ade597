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

