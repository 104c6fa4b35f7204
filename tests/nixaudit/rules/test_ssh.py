"""ssh-2fa-kbd-interactive, ssh-password-auth and ssh-root-login."""

from __future__ import annotations

from collections.abc import Callable

from securellm.nixaudit import AuditReport

AuditFiles = Callable[..., AuditReport]

TWO_FACTOR = "security.pam.services.sshd.googleAuthenticator.enable = true;\n"


def _at(report: AuditReport, rule_id: str) -> list[tuple[str, int]]:
    return [(f.file, f.line) for f in report.findings if f.rule_id == rule_id]


def test_seed_2fa_without_keyboard_interactive_is_reported(seed_report: AuditReport) -> None:
    assert _at(seed_report, "ssh-2fa-kbd-interactive") == [("sec/hardening.nix", 10)]


def test_seed_password_login_is_reported(seed_report: AuditReport) -> None:
    assert _at(seed_report, "ssh-password-auth") == [("hosts/kernelcore/configuration.nix", 26)]


def test_seed_root_login_forced_on_is_reported(seed_report: AuditReport) -> None:
    assert _at(seed_report, "ssh-root-login") == [("modules/services/offload-server.nix", 6)]


def test_clean_ssh_is_quiet(clean_report: AuditReport) -> None:
    assert not [f for f in clean_report.findings if f.rule_id.startswith("ssh-")]


def test_keyboard_interactive_off_without_2fa_is_fine(audit_files: AuditFiles) -> None:
    body = "services.openssh.settings.KbdInteractiveAuthentication = false;"
    assert audit_files({"a.nix": body}, ["ssh-2fa-kbd-interactive"]).findings == []


def test_authentication_methods_with_keyboard_interactive_count_as_2fa(
    audit_files: AuditFiles,
) -> None:
    body = (
        'services.openssh.settings.AuthenticationMethods = "publickey,keyboard-interactive";\n'
        "services.openssh.settings.KbdInteractiveAuthentication = false;"
    )
    assert len(audit_files({"a.nix": body}, ["ssh-2fa-kbd-interactive"]).findings) == 1


def test_legacy_option_name_is_understood(audit_files: AuditFiles) -> None:
    body = TWO_FACTOR + "services.openssh.kbdInteractiveAuthentication = false;"
    assert len(audit_files({"a.nix": body}, ["ssh-2fa-kbd-interactive"]).findings) == 1


def test_enabled_openssh_with_default_password_auth_is_low(audit_files: AuditFiles) -> None:
    report = audit_files({"a.nix": "services.openssh.enable = true;"}, ["ssh-password-auth"])
    assert [f.severity.value for f in report.findings] == ["low"]


def test_prohibit_password_root_login_is_fine(audit_files: AuditFiles) -> None:
    body = 'services.openssh.settings.PermitRootLogin = "prohibit-password";'
    assert audit_files({"a.nix": body}, ["ssh-root-login"]).findings == []
