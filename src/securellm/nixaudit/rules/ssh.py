"""SSH: 2FA that cannot work, password logins and root logins."""

from __future__ import annotations

from collections.abc import Iterator

from securellm.nixaudit.model import Finding, Severity
from securellm.nixaudit.nixfile import Assignment
from securellm.nixaudit.repo import Repository
from securellm.nixaudit.rule import Rule, is_true

OPENSSH = ("services", "openssh")
SSHD_PAM = ("security", "pam", "services", "sshd")


def _setting(repo: Repository, new: str, old: str, risky: str) -> Assignment | None:
    """The winning definition of ``settings.<new>`` or of the older ``<old>`` option.

    On a tie between definitions at the same priority the risky value is reported: the
    module system's result is then an error or depends on the option's merge.
    """
    defs = repo.winners(*OPENSSH, "settings", new) + repo.winners(*OPENSSH, old)
    if not defs:
        return None
    top = min(a.priority for a in defs)
    tied = sorted((a for a in defs if a.priority == top), key=lambda a: (a.file, a.line))
    return next((a for a in tied if a.value == risky), tied[0])


def _two_factor(repo: Repository) -> Assignment | None:
    """The definition that turns on a keyboard-interactive second factor, if any."""
    for name in ("googleAuthenticator", "oathAuth", "duoSecurity"):
        found = repo.effective(*SSHD_PAM, name, "enable") or repo.effective(*SSHD_PAM, name)
        if is_true(found):
            return found
    if is_true(repo.effective("security", "pam", "oath", "enable")):
        return repo.effective("security", "pam", "oath", "enable")
    methods = repo.effective(*OPENSSH, "settings", "AuthenticationMethods")
    if methods is not None and "keyboard-interactive" in methods.value:
        return methods
    return None


class SshTwoFactorBroken(Rule):
    id = "ssh-2fa-kbd-interactive"
    severity = Severity.HIGH
    title = "SSH 2FA enabled while keyboard-interactive authentication is off"
    explanation = (
        "PAM second factors (Google Authenticator, OATH, Duo) ask for the code through SSH's "
        "keyboard-interactive method. With KbdInteractiveAuthentication = false sshd never "
        "asks, so the second factor is silently not enforced (or logins fail)."
    )
    fix = (
        "Set `services.openssh.settings.KbdInteractiveAuthentication = true;` and "
        '`AuthenticationMethods = "publickey,keyboard-interactive:pam";` so both factors '
        "are required."
    )

    def check(self, repo: Repository) -> Iterator[Finding]:
        kbd = _setting(
            repo, "KbdInteractiveAuthentication", "kbdInteractiveAuthentication", "false"
        )
        factor = _two_factor(repo)
        if factor is None or kbd is None or kbd.value != "false":
            return
        yield self.finding(
            kbd.file,
            kbd.line,
            f"KbdInteractiveAuthentication = false while {factor.dotted} is set in "
            f"{factor.file}:{factor.line}",
        )


class SshPasswordAuth(Rule):
    id = "ssh-password-auth"
    severity = Severity.MEDIUM
    title = "SSH accepts password logins"
    explanation = (
        "Password logins let anyone who can reach the port guess passwords; NixOS allows them "
        "unless PasswordAuthentication is set to false."
    )
    fix = "Set `services.openssh.settings.PasswordAuthentication = false;` and use keys."

    def check(self, repo: Repository) -> Iterator[Finding]:
        setting = _setting(repo, "PasswordAuthentication", "passwordAuthentication", "true")
        if setting is not None and setting.value == "true":
            yield self.finding(setting.file, setting.line, "PasswordAuthentication = true")
            return
        enabled = repo.effective(*OPENSSH, "enable")
        if setting is None and enabled is not None and is_true(enabled):
            yield self.finding(
                enabled.file,
                enabled.line,
                "OpenSSH is enabled and PasswordAuthentication is left at its default (true)",
                severity=Severity.LOW,
            )


class SshRootLogin(Rule):
    id = "ssh-root-login"
    severity = Severity.HIGH
    title = "SSH allows root to log in"
    explanation = (
        'PermitRootLogin = "yes" lets root log in with any method, including a password; '
        "a stolen or guessed credential is then a full compromise."
    )
    fix = 'Set `services.openssh.settings.PermitRootLogin = "no";` (or "prohibit-password").'

    def check(self, repo: Repository) -> Iterator[Finding]:
        setting = _setting(repo, "PermitRootLogin", "permitRootLogin", "yes")
        if setting is not None and setting.value == "yes":
            yield self.finding(setting.file, setting.line, 'PermitRootLogin = "yes"')


RULES = (SshTwoFactorBroken(), SshPasswordAuth(), SshRootLogin())
