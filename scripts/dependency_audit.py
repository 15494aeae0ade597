"""Dependency audit of both lock files with pip-audit (run by scripts/test.sh, so by CI).

Fails (exit 1) on a known vulnerability that is not listed, with a reason, in
requirements/audit-known.yml. A package pip-audit could not look up (the vulnerability
service unreachable, or a local build such as torch's "+cpu") is reported by name and counted,
never silently taken as clean. The summary is printed and written to build/dependency-audit.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
LOCKS = [ROOT / "requirements" / "gateway.lock", ROOT / "requirements" / "rasa.lock"]
KNOWN = ROOT / "requirements" / "audit-known.yml"
OUT = ROOT / "build" / "dependency-audit.json"
PIP_AUDIT = ROOT / ".venv" / "bin" / "pip-audit"


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


def main() -> int:
    known, report_only = known_findings()
    results = [summarise(lock, audit(lock), known, report_only) for lock in LOCKS]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    unexplained = 0
    for r in results:
        total = r["audited"] + len(r["not_audited"])
        print(f"dependency audit {r['lock']}: {r['audited']}/{total} packages audited, "
              f"{len(r['findings'])} finding(s)")
        if r["not_audited"]:
            print(f"  NOT audited ({len(r['not_audited'])}; vulnerability service unreachable or not on PyPI): "
                  + ", ".join(r["not_audited"][:12]) + (" ..." if len(r["not_audited"]) > 12 else ""))
        for f in r["findings"]:
            if f["known_reason"]:
                print(f"  known  {f['package']} {f['version']} {f['id']}: {f['known_reason']}")
            else:
                unexplained += 1
                print(f"  NEW    {f['package']} {f['version']} {f['id']} (fixed in {f['fix_versions']}):"
                      f" upgrade, or list it with a reason in {KNOWN.relative_to(ROOT)}")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
