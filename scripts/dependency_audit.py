"""Dependency audit of both Python lock files with pip-audit and of package-lock.json with
npm audit (run by scripts/test.sh, so by CI).

Fails (exit 1) on a known vulnerability that is not listed, with a reason, in
requirements/audit-known.yml. A package that could not be looked up (the vulnerability
service unreachable, or a local build such as torch's "+cpu") is reported by name and counted,
never silently taken as clean. A lock of which nothing at all could be checked (offline) is
not a pass either: "audit: could not check N packages" and exit 3, unless the caller says that
is acceptable (`--allow-offline` or BOT_AUDIT_ALLOW_OFFLINE=1: an offline CI), and then the
output still says plainly that nothing was checked. The summary is printed and written to
build/dependency-audit.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
LOCKS = [ROOT / "requirements" / "gateway.lock", ROOT / "requirements" / "rasa.lock"]
KNOWN = ROOT / "requirements" / "audit-known.yml"
OUT = ROOT / "build" / "dependency-audit.json"
PIP_AUDIT = ROOT / ".venv" / "bin" / "pip-audit"
NPM_LOCK = ROOT / "package-lock.json"
OFFLINE_EXIT = 3


def known_findings() -> tuple[dict[str, str], dict[str, str]]:
    """(finding id → reason, lock name → reason it is report-only)."""
    data = yaml.safe_load(KNOWN.read_text(encoding="utf-8")) or {}
    rows, report_only = data.get("findings") or [], data.get("report_only") or {}
    missing = [row for row in rows if not str(row.get("reason", "")).strip()]
    missing += [name for name, why in report_only.items() if not str(why or "").strip()]
    if missing:
        raise SystemExit(f"{KNOWN.name}: every listed finding needs a reason: {missing}")
    return {row["id"]: row["reason"] for row in rows}, report_only


def audit(lock: Path, timeout: float = 600) -> dict:
    # --no-deps/--disable-pip: the lock is complete and pinned, so nothing is resolved or installed.
    cmd = [str(PIP_AUDIT), "-r", str(lock), "--no-deps", "--disable-pip", "--format", "json",
           "--progress-spinner", "off", "--cache-dir", str(ROOT / "build" / "pip-audit-cache")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"pip-audit failed on {lock.name} (exit {proc.returncode}):\n{proc.stderr[-2000:]}") from None


def pins(lock: Path) -> dict[str, str]:
    out = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            out[name.strip().lower().replace("_", "-").replace(".", "-")] = version.strip()
    return out


def summarise(lock: Path, report: dict, known: dict[str, str], report_only: dict[str, str]) -> dict:
    audited, skipped, findings = 0, [], []
    pinned = pins(lock)
    for dep in report.get("dependencies", []):
        if "skip_reason" in dep:
            skipped.append(f"{dep['name']}=={dep.get('version') or pinned.get(dep['name'], '?')}")
            continue
        audited += 1
        for vuln in dep.get("vulns", []):
            ids = [vuln["id"], *vuln.get("aliases", [])]
            reason = next((known[i] for i in ids if i in known), None) or report_only.get(lock.name)
            findings.append({"package": dep["name"], "version": dep["version"], "id": vuln["id"],
                             "fix_versions": vuln.get("fix_versions", []), "known_reason": reason})
    return {"lock": lock.name, "audited": audited, "not_audited": skipped, "findings": findings}


def npm_packages(lock: Path = NPM_LOCK) -> dict[str, str]:
    """name → version of every package package-lock.json installs (lockfile v2/v3)."""
    data = json.loads(lock.read_text(encoding="utf-8"))
    out = {}
    for path, meta in (data.get("packages") or {}).items():
        if path and "version" in meta:
            out[path.rsplit("node_modules/", 1)[-1]] = meta["version"]
    return out


def npm_audit(timeout: float = 300) -> dict | None:
    """npm audit's report of package-lock.json; None when npm is missing or the audit service
    did not answer (its JSON then carries an error instead of `vulnerabilities`)."""
    npm = shutil.which("npm")
    if npm is None or not NPM_LOCK.exists():
        return None
    try:
        proc = subprocess.run([npm, "audit", "--package-lock-only", "--json"], cwd=ROOT, capture_output=True,
                              text=True, timeout=timeout)
        report = json.loads(proc.stdout or "{}")
    except (subprocess.TimeoutExpired, json.JSONDecodeError):
        return None
    return report if isinstance(report, dict) and "vulnerabilities" in report else None


def summarise_npm(report: dict | None, packages: dict[str, str], known: dict[str, str],
                  report_only: dict[str, str]) -> dict:
    """The npm lock in the same shape as summarise(): each advisory by its GHSA id."""
    if report is None:
        return {"lock": NPM_LOCK.name, "audited": 0, "not_audited": [f"{n}@{v}" for n, v in sorted(packages.items())],
                "findings": []}
    findings = []
    for name, vuln in (report.get("vulnerabilities") or {}).items():
        for via in vuln.get("via") or []:
            if not isinstance(via, dict):  # a package that is vulnerable through another: listed there
                continue
            vid = str(via.get("url", "")).rstrip("/").rsplit("/", 1)[-1] or str(via.get("source"))
            reason = known.get(vid) or report_only.get(NPM_LOCK.name)
            findings.append({"package": name, "version": packages.get(name, "?"), "id": vid,
                             "fix_versions": [via.get("range", "")], "known_reason": reason})
    return {"lock": NPM_LOCK.name, "audited": len(packages), "not_audited": [], "findings": findings}


def judge(results: list[dict], allow_offline: bool) -> tuple[int, list[str]]:
    """(exit code, lines to print): 1 on an unexplained finding, 3 when a lock could not be
    checked at all (0 with allow_offline, still said plainly), else 0."""
    lines, unexplained, unchecked, blind = [], 0, 0, []
    for r in results:
        total = r["audited"] + len(r["not_audited"])
        unchecked += len(r["not_audited"])
        if total and not r["audited"]:
            blind.append(r["lock"])
        lines.append(f"dependency audit {r['lock']}: {r['audited']}/{total} packages audited, "
                     f"{len(r['findings'])} finding(s)")
        if r["not_audited"]:
            names = ", ".join(r["not_audited"][:12]) + (" ..." if len(r["not_audited"]) > 12 else "")
            lines.append(f"  NOT audited ({len(r['not_audited'])}; vulnerability service unreachable or not on the "
                         f"registry): {names}")
        for f in r["findings"]:
            if f["known_reason"]:
                lines.append(f"  known  {f['package']} {f['version']} {f['id']}: {f['known_reason']}")
            else:
                unexplained += 1
                lines.append(f"  NEW    {f['package']} {f['version']} {f['id']} (fixed in {f['fix_versions']}):"
                             f" upgrade, or list it with a reason in {KNOWN.relative_to(ROOT)}")
    total = sum(r["audited"] + len(r["not_audited"]) for r in results)
    if unchecked:
        lines.append(f"audit: could not check {unchecked} of {total} packages"
                     + (f" (offline: nothing checked in {', '.join(blind)})" if blind else ""))
    if unexplained:
        return 1, lines
    if blind:
        if allow_offline:
            lines.append("audit: NOT a pass: the locks above were not checked; exit 0 only because offline runs "
                         "are allowed (--allow-offline / BOT_AUDIT_ALLOW_OFFLINE=1)")
            return 0, lines
        lines.append("audit: FAILED: could not reach the vulnerability services (run online, or pass "
                     "--allow-offline where an offline run is acceptable)")
        return OFFLINE_EXIT, lines
    return 0, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--allow-offline", action="store_true",
                        help="exit 0 when nothing could be checked (said plainly); also BOT_AUDIT_ALLOW_OFFLINE=1")
    args = parser.parse_args(argv)
    allow = args.allow_offline or os.environ.get("BOT_AUDIT_ALLOW_OFFLINE") == "1"
    known, report_only = known_findings()
    results = [summarise(lock, audit(lock), known, report_only) for lock in LOCKS]
    if NPM_LOCK.exists():
        results.append(summarise_npm(npm_audit(), npm_packages(), known, report_only))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    code, lines = judge(results, allow)
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    sys.exit(main())
