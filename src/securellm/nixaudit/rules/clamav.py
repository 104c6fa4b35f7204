"""ClamAV: the updater's interval and frequency misused, and ClamAV set up in two places."""

from __future__ import annotations

from collections.abc import Iterator

from securellm.nixaudit.model import Finding, Severity
from securellm.nixaudit.repo import Repository
from securellm.nixaudit.rule import Rule, files_of

UPDATER = ("services", "clamav", "updater")
SUB_DAILY = frozenset({"hourly", "minutely"})


def _sub_daily(interval: str) -> bool:
    return interval.strip().lower() in SUB_DAILY or "*:" in interval or "/" in interval


class ClamavUpdaterFrequency(Rule):
    id = "clamav-updater-frequency"
    severity = Severity.HIGH
    title = "ClamAV updater runs far more often than intended"
    explanation = (
        "`services.clamav.updater.interval` is the systemd calendar on which freshclam runs; "
        "`frequency` is freshclam's number of database checks per day. Combining an hourly "
        "interval with a frequency above 1 multiplies the update attempts (the audited machine "
        'saw an update every 2.5 minutes with interval = "hourly" and frequency = 24), '
        "costing RAM, disk I/O and bandwidth."
    )
    fix = 'Set `updater.interval = "daily";` and `updater.frequency = 1;`.'

    def check(self, repo: Repository) -> Iterator[Finding]:
        effective = repo.effective(*UPDATER, "interval")
        for freq in repo.definitions(*UPDATER, "frequency"):
            if freq.kind != "number" or not freq.value.isdigit() or int(freq.value) <= 1:
                continue
            local = [d for d in repo.definitions(*UPDATER, "interval") if d.file == freq.file]
            interval = local[0] if local else effective
            text = interval.value if interval is not None else "hourly"
            if _sub_daily(text):
                yield self.finding(
                    freq.file,
                    freq.line,
                    f'ClamAV updater frequency = {freq.value} with interval = "{text}"'
                    + ("" if interval else " (the default)"),
                )


class ClamavMultipleDefinitions(Rule):
    id = "clamav-multiple-definitions"
    severity = Severity.MEDIUM
    title = "ClamAV configured in more than one module"
    explanation = (
        "Two modules configuring services.clamav means the effective daemon and updater "
        "settings depend on merge order and priorities; fixing one file (e.g. lowering the "
        "update frequency) leaves the other one still in force."
    )
    fix = (
        "Keep services.clamav in one module (e.g. modules/security/clamav.nix) behind an "
        "enable option, and have other modules only set that option."
    )

    def check(self, repo: Repository) -> Iterator[Finding]:
        seen: set[Finding] = set()
        for defs in repo.co_evaluated(repo.under("services", "clamav")):
            files = files_of(defs)
            if len(files) < 2:
                continue
            first = min((d for d in defs if d.file == files[1]), key=lambda d: d.line)
            finding = self.finding(
                first.file,
                first.line,
                f"services.clamav is configured in {len(files)} modules: {', '.join(files)}",
            )
            if finding not in seen:
                seen.add(finding)
                yield finding


RULES = (ClamavUpdaterFrequency(), ClamavMultipleDefinitions())
