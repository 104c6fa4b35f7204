"""Each installed unit's ExecStart, run the way systemd runs it, serves and stops cleanly.

systemd is not PID 1 on this machine, so the unit cannot be started for real: the test runs
the unit's own command line with the environment systemd would give it (STATE_DIRECTORY,
LOGS_DIRECTORY, the unit's Environment=, HOME in a hidden /home) inside the sandbox that
sandbox_exec.py builds from the unit's settings (read-only file system but the state and logs
directories, private /tmp, hidden homes, private /dev, no W+X memory, unprivileged uid with no
capability, the unit's system-call filter and address families), and checks the service
answers, keeps its data in the state directory and exits on SIGTERM as systemd expects.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from securellm.cli import deploy_cmd
from support.require import free_port, missing, require_binary

READY_WITHIN_S = 60.0  # how long to wait for the port; a readiness wait, not a measurement
STOP_WITHIN_S = 45.0  # the units' TimeoutStopSec=
SANDBOX = Path(__file__).resolve().parent / "sandbox_exec.py"
SERVICE_UID = 61234  # in systemd's DynamicUser= range, owned by no one here

PROJECT = Path(__file__).resolve().parents[2]


@dataclass
class Service:
    argv: list[str]
    env: dict[str, str]
    port: int
    prefix: Path
    state: Path
    logs: Path
    sandbox_flags: list[str]
    uid: int = SERVICE_UID
    new_root: Path | None = None
    pid: int | None = None

    def sandboxed(self, new_root: Path) -> list[str]:
        """The command run by sandbox_exec.py in a private mount namespace, as ``uid``."""
        unshare = shutil.which("unshare")
        if unshare is None or os.geteuid() != 0:
            missing("root and unshare(1) (to build the ProtectSystem=strict sandbox)")
        new_root.mkdir()
        self.new_root = new_root
        for directory in (self.state, self.logs):
            os.chown(directory, self.uid, self.uid)
        wrapper = [unshare, "--mount", "--propagation", "private", "--", sys.executable]
        wrapper += [str(SANDBOX), "--root", str(new_root), "--uid", str(self.uid)]
        wrapper += ["--ro", str(self.prefix / "etc"), "--rw", str(self.state)]
        wrapper += ["--rw", str(self.logs), "--expose", sys.base_prefix]
        # The checkout and its venv may sit where the unit hides things (/tmp, /root):
        # a real install lives under /usr or /nix, so show them read-only like one.
        wrapper += ["--expose", str(PROJECT), "--expose", sys.prefix, *self.sandbox_flags]
        wrapper += ["--", *self.argv]
        return wrapper


def installed(prefix: Path) -> None:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test root."""

    deploy_cmd.register(app)
    result = CliRunner().invoke(app, ["install-units", "--prefix", str(prefix)])
    assert result.exit_code == 0, result.output


# Unit settings the sandbox reproduces beyond the always-on ones (see sandbox_exec.py).
SANDBOX_FLAGS = {
    "PrivateDevices=yes": "--private-devices",
    "MemoryDenyWriteExecute=yes": "--mdwe",
}


def syscall_groups() -> dict[str, list[str]]:
    """systemd's named system-call groups (``@system-service`` …) from ``systemd-analyze``."""
    argv = [require_binary("systemd-analyze"), "syscall-filter", "--no-pager"]
    listing = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
    groups: dict[str, list[str]] = {}
    members: list[str] = []
    for line in listing.stdout.splitlines():
        if line.startswith("@"):
            members = groups.setdefault(line.strip(), [])
        elif line.startswith("    ") and not line.strip().startswith("#"):
            members.append(line.strip())
    return groups


def expand(items: list[str], groups: dict[str, list[str]]) -> set[str]:
    names: set[str] = set()
    for item in items:
        names |= expand(groups[item], groups) if item.startswith("@") else {item}
    return names


def allowed_syscalls(lines: list[str], groups: dict[str, list[str]]) -> set[str]:
    """What the unit's SystemCallFilter= lines allow (systemd always allows @default)."""
    allowed = expand(["@default"], groups)
    for line in lines:
        if line.startswith("SystemCallFilter=~"):
            allowed -= expand(line.removeprefix("SystemCallFilter=~").split(), groups)
        elif line.startswith("SystemCallFilter="):
            allowed |= expand(line.removeprefix("SystemCallFilter=").split(), groups)
    return allowed


def sandbox_flags(unit: Path, work: Path) -> list[str]:
    """sandbox_exec.py options for what the unit asks of systemd."""
    lines = unit.read_text().splitlines()
    flags = [flag for setting, flag in SANDBOX_FLAGS.items() if setting in lines]
    syscalls = work / "syscalls.txt"
    syscalls.write_text("\n".join(sorted(allowed_syscalls(lines, syscall_groups()))))
    (families,) = [x for x in lines if x.startswith("RestrictAddressFamilies=")]
    numbers = [str(int(getattr(socket, name))) for name in families.split("=")[1].split()]
    return [*flags, "--syscalls", str(syscalls), "--families", ",".join(numbers)]


def unit_command(unit: Path, prefix: Path) -> tuple[list[str], dict[str, str]]:
    """ExecStart as argv (config path moved under the prefix) and the Environment= settings."""
    argv: list[str] = []
    env: dict[str, str] = {}
    for line in unit.read_text().splitlines():
        if line.startswith("ExecStart="):
            argv = shlex.split(line.removeprefix("ExecStart="))
        elif line.startswith("Environment="):
            name, _, value = line.removeprefix("Environment=").partition("=")
            env[name] = value
    config = argv.index("--config") + 1
    argv[config] = str(prefix / argv[config].lstrip("/"))
    return argv, env


def prepare(tmp_path: Path, component: str) -> Service:
    prefix = tmp_path / "root"
    installed(prefix)
    unit = prefix / "etc/systemd/system" / f"securellm-{component}.service"
    argv, unit_env = unit_command(unit, prefix)
    port = free_port()
    state = (
        prefix
        / "var/lib"
        / {"gateway": "securellm", "offload": "ml-offload"}.get(component, "mcp-knowledge")
    )
    logs = prefix / "var/log/securellm" / component
    for directory in (state, logs):
        directory.mkdir(parents=True)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/home/securellm-test",
        "STATE_DIRECTORY": str(state),
        "LOGS_DIRECTORY": str(logs),
        **{k: v.replace("/var/lib/", f"{prefix}/var/lib/") for k, v in unit_env.items()},
    }
    if component == "mcp":
        argv[argv.index("--http") + 1] = f"127.0.0.1:{port}"
    else:
        env[f"SECURELLM_{component.upper()}__PORT"] = str(port)
    if component == "offload":
        models = prefix / "var/lib/ml-models"
        env.update(
            SECURELLM_OFFLOAD__GPU="simulated",
            SECURELLM_OFFLOAD__INCLUDE_BUNDLED="false",
            SECURELLM_OFFLOAD__MODEL_DIRS=f'["{models}/llamacpp/models"]',
            SECURELLM_OFFLOAD__OLLAMA_DIR=f"{models}/ollama/models",
            SECURELLM_OFFLOAD__HUGGINGFACE_DIR=f"{models}/huggingface/hub",
        )
    return Service(argv, env, port, prefix, state, logs, sandbox_flags(unit, tmp_path))


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


@contextmanager
def serving(service: Service, tmp_path: Path, health_path: str) -> Iterator[Service]:
    """Start the service in its sandbox, wait until it answers, stop it with SIGTERM."""
    log = (tmp_path / "service.log").open("wb")
    argv = service.sandboxed(tmp_path / "sandbox")
    process = subprocess.Popen(argv, env=service.env, stdout=log, stderr=log)
    service.pid = process.pid
    deadline = time.monotonic() + READY_WITHIN_S
    try:
        while not answers(f"http://127.0.0.1:{service.port}{health_path}"):
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"did not serve:\n{(tmp_path / 'service.log').read_text()}")
            time.sleep(0.2)
        yield service
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=STOP_WITHIN_S)
        assert code in (0, -signal.SIGTERM), (tmp_path / "service.log").read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def running(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Service]:
    component: str = request.param
    health = "/mcp" if component == "mcp" else "/health"
    with serving(prepare(tmp_path, component), tmp_path, health) as service:
        yield service


@pytest.mark.parametrize("running", ["gateway", "offload", "mcp"], indirect=True)
def test_service_serves_in_the_sandbox_of_its_unit(running: Service) -> None:
    assert os.readlink(f"/proc/{running.pid}/root") == str(running.new_root)
    status = Path(f"/proc/{running.pid}/status").read_text().splitlines()
    fields = dict(line.split(":\t", 1) for line in status if ":\t" in line)
    assert fields["Uid"].split()[0] == str(SERVICE_UID)
    assert (fields["NoNewPrivs"], fields["Seccomp"], int(fields["CapBnd"], 16)) == ("1", "2", 0)


@pytest.mark.parametrize("running", ["gateway", "offload", "mcp"], indirect=True)
def test_service_listens_on_loopback_only(running: Service) -> None:
    ours = {s for s in listening_sockets() if s.endswith(f":{running.port:04X}")}
    assert ours == {f"0100007F:{running.port:04X}"}


@pytest.mark.parametrize("running", ["gateway"], indirect=True)
def test_gateway_keeps_its_database_in_the_state_directory(running: Service) -> None:
    assert (Path(running.env["STATE_DIRECTORY"]) / "gateway.db").exists()


@pytest.mark.parametrize("running", ["mcp"], indirect=True)
def test_mcp_keeps_the_knowledge_base_where_the_unit_says(running: Service) -> None:
    assert Path(running.env["KNOWLEDGE_DB_PATH"]).exists()


def sandbox_run(tmp_path: Path, *command: str) -> subprocess.CompletedProcess[str]:
    writable = tmp_path / "state"
    writable.mkdir()
    (tmp_path / "etc").mkdir()
    unit = Path(__file__).resolve().parents[2] / "deploy/systemd/securellm-gateway.service"
    flags = sandbox_flags(unit, tmp_path)
    service = Service([*command], {}, 0, tmp_path, writable, writable, flags)
    argv = service.sandboxed(tmp_path / "sandbox")
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_sandbox_refuses_writes_outside_the_writable_directories(tmp_path: Path) -> None:
    done = sandbox_run(tmp_path, "/usr/bin/touch", "/etc/securellm-sandbox-probe")
    assert done.returncode != 0
    assert "Read-only file system" in done.stderr


def test_sandbox_hides_home_directories(tmp_path: Path) -> None:
    done = sandbox_run(tmp_path, "/usr/bin/ls", "-A", "/home")
    assert (done.returncode, done.stdout) == (0, "")


def test_sandbox_keeps_only_pseudo_devices(tmp_path: Path) -> None:
    done = sandbox_run(tmp_path, "/usr/bin/ls", "/dev")
    assert set(done.stdout.split()) == {
        "full",
        "null",
        "pts",
        "random",
        "shm",
        "tty",
        "urandom",
        "zero",
    }


def test_sandbox_runs_the_command_unprivileged(tmp_path: Path) -> None:
    done = sandbox_run(
        tmp_path,
        "/usr/bin/grep",
        "-E",
        "^(Uid|CapBnd|NoNewPrivs):",
        "/proc/self/status",
    )
    fields = dict(line.split(":\t", 1) for line in done.stdout.splitlines())
    assert fields["Uid"].split()[0] == str(SERVICE_UID)
    assert int(fields["CapBnd"], 16) == 0
    assert fields["NoNewPrivs"].strip() == "1"


def test_sandbox_refuses_writable_executable_memory(tmp_path: Path) -> None:
    probe = "import mmap; mmap.mmap(-1, 4096, prot=mmap.PROT_WRITE | mmap.PROT_EXEC)"
    done = sandbox_run(tmp_path, sys.executable, "-c", probe)
    assert done.returncode != 0
    assert "PermissionError" in done.stderr


def test_sandbox_allows_writes_in_the_state_directory(tmp_path: Path) -> None:
    probe = tmp_path / "state" / "probe"
    done = sandbox_run(tmp_path, "/usr/bin/touch", str(probe))
    assert done.returncode == 0, done.stderr
    assert probe.exists()


def test_sandbox_refuses_system_calls_outside_the_unit_filter(tmp_path: Path) -> None:
    probe = "import os; os.setpriority(os.PRIO_PROCESS, 0, 5)"  # @resources
    done = sandbox_run(tmp_path, sys.executable, "-c", probe)
    assert done.returncode != 0
    assert "PermissionError" in done.stderr


def test_sandbox_refuses_socket_families_outside_the_unit_list(tmp_path: Path) -> None:
    probe = "import socket; socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)"
    done = sandbox_run(tmp_path, sys.executable, "-c", probe)
    assert done.returncode != 0
    assert "PermissionError" in done.stderr


@dataclass
class ContainerSpec:
    """The final stage of deploy/container/Containerfile, as a runtime would apply it."""

    env: dict[str, str]
    command: list[str]
    uid: int
    volumes: list[str]


def container_spec() -> ContainerSpec:
    path = Path(__file__).resolve().parents[2] / "deploy/container/Containerfile"
    lines = [x.strip() for x in path.read_text().replace("\\\n", " ").splitlines()]
    lines = [x for x in lines if x and not x.startswith("#")]
    final = lines[max(i for i, x in enumerate(lines) if x.startswith("FROM ")) :]
    env: dict[str, str] = {}
    spec = ContainerSpec(env, [], 0, [])
    for line in final:
        keyword, _, rest = line.partition(" ")
        if keyword == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(rest))
        elif keyword in ("ENTRYPOINT", "CMD"):
            spec.command += json.loads(rest)
        elif keyword == "USER":
            spec.uid = int(rest.split(":")[0])
        elif keyword == "VOLUME":
            spec.volumes = json.loads(rest)
    return spec


def test_container_command_serves_from_its_volumes_with_a_read_only_root(tmp_path: Path) -> None:
    spec = container_spec()
    volumes = {v: tmp_path / "volumes" / v.strip("/").replace("/", "-") for v in spec.volumes}
    for directory in volumes.values():
        directory.mkdir(parents=True)
    env = dict(spec.env)
    for inside, host in volumes.items():
        env = {k: v.replace(inside, str(host)) for k, v in env.items()}
    bin_dir = Path(sys.executable).parent  # the image's /opt/securellm/bin
    env["PATH"] = f"{bin_dir}:/usr/bin:/bin"
    port = free_port()
    env["SECURELLM_GATEWAY__PORT"] = str(port)
    argv = [str(bin_dir / spec.command[0]), *spec.command[1:]]
    state, logs = volumes["/var/lib/securellm"], volumes["/var/log/securellm"]
    service = Service(argv, env, port, tmp_path, state, logs, [], uid=spec.uid)
    (tmp_path / "etc").mkdir()
    with serving(service, tmp_path, "/health"):
        assert (state / "gateway.db").exists()
        # Inside a container the gateway must listen on every interface of its namespace.
        assert f"00000000:{port:04X}" in listening_sockets()


def listening_sockets() -> set[str]:
    """Local ``address:port`` (hex, as the kernel writes them) of listening IPv4 TCP sockets."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return {row.split()[1] for row in rows if row.split()[3] == "0A"}
