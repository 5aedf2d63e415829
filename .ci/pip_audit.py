"""CI's dependency audit: pip-audit over requirements.lock, with an honest outcome.

Why a wrapper: when pip-audit cannot look a package up (no network to its vulnerability
service, or an index proxy that answers 404 for per-release JSON) it marks it "skipped"
and still prints "No known vulnerabilities found" with exit 0, a silent pass. Here:

* a known vulnerability (not triaged in .ci/pip-audit-ignore.txt) fails CI (exit 1);
* a service that cannot be reached, or answers for none of the locked packages, is an
  explicit, logged ``SKIPPED`` (exit 0): it neither fails unrelated work nor claims a pass;
* otherwise it prints how many packages were audited, and names any it could not audit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
IGNORE = ROOT / ".ci" / "pip-audit-ignore.txt"


def ignored_ids() -> list[str]:
    """Triaged advisories: one 'ID  reason' per line (the reason is mandatory)."""
    if not IGNORE.exists():
        return []
    ids = []
    for line in IGNORE.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            vuln_id, _, reason = line.partition(" ")
            if not reason.strip():
                sys.exit(f"pip-audit: {IGNORE.name}: {vuln_id} needs a reason")
            ids.append(vuln_id)
    return ids


def main() -> int:
    cmd = [
        sys.executable,
        "-m",
        "pip_audit",
        "-r",
        str(LOCK),
        "--no-deps",
        "--disable-pip",
        "--format",
        "json",
        "--progress-spinner",
        "off",
        "--timeout",
        "20",
    ]
    for vuln_id in ignored_ids():
        cmd += ["--ignore-vuln", vuln_id]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"pip-audit: SKIPPED: could not run ({exc})")
        return 0
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        print(
            "pip-audit: SKIPPED: no report (vulnerability service unreachable?): "
            + " | ".join(tail)
        )
        return 0
    code, lines = classify(report)
    for line in lines:
        print(line)
    return code


def classify(report: dict) -> tuple[int, list[str]]:
    """(exit code, log lines) for a pip-audit JSON report; see the module docstring."""
    deps = report.get("dependencies", [])
    skipped = [d for d in deps if "skip_reason" in d]
    audited = [d for d in deps if "skip_reason" not in d]
    vulnerable = [d for d in audited if d.get("vulns")]
    if vulnerable:
        lines = []
        for d in vulnerable:
            for v in d["vulns"]:
                fix = ", ".join(v.get("fix_versions", [])) or "no fix yet"
                lines.append(
                    f"pip-audit: VULNERABLE {d['name']}=={d['version']}: {v['id']} ({fix})"
                )
        lines.append(
            f"pip-audit: FAILED: {len(vulnerable)} locked package(s) have known "
            f"vulnerabilities; upgrade them in requirements.lock or triage in {IGNORE.name}"
        )
        return 1, lines
    if not audited:
        example = skipped[0]["skip_reason"] if skipped else "empty report"
        return 0, [
            f"pip-audit: SKIPPED: the vulnerability service answered for none of the "
            f"{len(deps)} locked packages ({example}); nothing was audited"
        ]
    lines = [f"pip-audit: {len(audited)} locked packages audited, no known vulnerabilities"]
    if skipped:
        lines.append(
            f"pip-audit: {len(skipped)} not audited: " + ", ".join(d["name"] for d in skipped)
        )
    return 0, lines


if __name__ == "__main__":
    sys.exit(main())
