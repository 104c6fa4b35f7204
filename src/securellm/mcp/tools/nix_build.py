"""``build_and_test`` and ``package_diagnose``: build a flake output and run its checks;
say why a package is missing, does not evaluate, or fails to build.

Both go through :class:`~securellm.mcp.tools.nix.NixTools`: evaluation inside the isolation's
view, builds of store derivations outside it in Nix's sandbox, a timeout that kills, and a
cancelled request kills ``nix`` and its builders. Progress messages are plain text.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field

from securellm.mcp.errors import NixCommandError
from securellm.mcp.nix import validate
from securellm.mcp.nix.runner import LineCallback, NixResult, drv_path
from securellm.mcp.state import ServerState
from securellm.mcp.tools.nix import (
    DRV_PATHS,
    NO_WRITE,
    Attr,
    FlakeRef,
    NixTools,
    drv_paths,
    plain_text,
    progress_callback,
)

GROUP = "nix"  # the tool group these tools belong to (``[mcp] tools``)

_MISSING = re.compile(r"does not provide attribute|attribute '[^']*' missing|has no attribute")
DiagnoseStatus = Literal["builds", "missing", "evaluation_error", "build_failed"]
PackageAttr = Annotated[
    str, Field(description="e.g. hello (packages.<system>.hello) or a full attribute path")
]


class StepResult(BaseModel):
    name: str
    ok: bool
    log_tail: str = ""


class BuildAndTestResult(BaseModel):
    installable: str
    ok: bool
    outputs: dict[str, str]
    checks: list[StepResult]
    duration_s: float
    log_tail: str


class Diagnosis(BaseModel):
    installable: str
    status: DiagnoseStatus
    summary: str
    suggestions: list[str] = Field(default_factory=list)
    drv_path: str | None = None
    log_tail: str = ""


def clean_tail(result: NixResult, limit: int = 3000) -> str:
    """The end of nix's stderr as plain text (no colours, no control bytes)."""
    lines = (plain_text(line) for line in result.stderr_tail.splitlines())
    return "\n".join(line for line in lines if line)[-limit:]


def _first_error(tail: str) -> str:
    for line in tail.splitlines():
        if line.startswith("error:"):
            return line[:300]
    return tail.splitlines()[-1][:300] if tail else "no error output"


class BuildTools:
    def __init__(self, nix: NixTools) -> None:
        self._nix = nix

    async def build_and_test(
        self, flake_ref: FlakeRef, ctx: Context, attr: Attr = "default"
    ) -> BuildAndTestResult:
        """Build a flake output (default: packages.<system>.default), then its checks."""
        nix = self._nix
        system = await self._system()
        full = attr if "." in attr else f"packages.{system}.{attr}"
        target = await nix.installable(flake_ref, full)
        report = progress_callback(ctx)  # one counter: progress only ever increases
        await report(f"building {target}")
        built, duration = await nix.build(target, report)
        if built.returncode != 0:
            tail = clean_tail(built)
            return BuildAndTestResult(
                installable=target, ok=False, outputs={}, checks=[], duration_s=duration,
                log_tail=tail,
            )  # fmt: skip
        outputs = _outputs(built)
        checks = await self._checks(report, target.split("#", 1)[0])
        total = duration + sum(c.duration for c in checks)
        steps = [StepResult(name=c.name, ok=c.ok, log_tail="" if c.ok else c.tail) for c in checks]
        failed = [c.tail for c in checks if not c.ok]
        return BuildAndTestResult(
            installable=target,
            ok=not failed,
            outputs=outputs,
            checks=steps,
            duration_s=total,
            log_tail=failed[0] if failed else clean_tail(built)[-1000:],
        )

    async def _system(self) -> str:
        return await self._nix.system()

    async def _checks(self, report: LineCallback, ref: str) -> list[_Check]:
        """Each check of this system built on its own, so the result says which failed."""
        done: list[_Check] = []
        checks = await self._check_map(ref)
        for name, drv in checks.items():
            await report(f"check {name}")
            result = await self._nix.realise([drv], report)
            done.append(_Check(name, result.returncode == 0, clean_tail(result), result.duration_s))
        return done

    async def _check_map(self, ref: str) -> dict[str, str]:
        """``checks.<system>`` name → store derivation; none when the flake has none. (Not
        ``nix flake show`` first: one package that does not evaluate would stop it.)"""
        target = f"{ref}#checks.{await self._system()}"
        result = await self._nix.run(["eval", "--json", NO_WRITE, target, "--apply", DRV_PATHS])
        if result.returncode != 0:
            tail = clean_tail(result)
            if _MISSING.search(tail):
                return {}
            raise NixCommandError(f"the checks do not evaluate: {_first_error(tail)}")
        try:
            return drv_paths(json.loads(result.stdout))
        except ValueError:
            raise NixCommandError(
                "nix eval of the checks printed something that is not JSON"
            ) from None

    async def package_diagnose(self, flake_ref: FlakeRef, attr: PackageAttr) -> Diagnosis:
        """Why a package is missing, fails to evaluate or to build: lookup, error, log tail."""
        nix = self._nix
        system = await self._system()
        full = attr if "." in attr else f"packages.{system}.{attr}"
        target = await nix.installable(flake_ref, full)
        evaluated = await nix.run(["eval", "--raw", NO_WRITE, f"{target}.drvPath"])
        if evaluated.returncode != 0:
            return await self._eval_failure(target, full, clean_tail(evaluated))
        drv = drv_path(evaluated.stdout)
        built = await nix.realise([drv], _quiet)
        tail = clean_tail(built)
        if built.returncode == 0:
            summary = f"{attr} evaluates and builds"
            return Diagnosis(installable=target, status="builds", summary=summary, drv_path=drv)
        return Diagnosis(
            installable=target,
            status="build_failed",
            summary=f"{attr} evaluates but its build fails: {_first_error(tail)}",
            drv_path=drv,
            log_tail=tail,
        )

    async def _eval_failure(self, target: str, full: str, tail: str) -> Diagnosis:
        if not _MISSING.search(tail):
            summary = f"{full} does not evaluate: {_first_error(tail)}"
            return Diagnosis(
                installable=target, status="evaluation_error", summary=summary, log_tail=tail
            )
        parent, _, leaf = full.rpartition(".")
        names = await self._names(target.split("#", 1)[0], parent)
        close = difflib.get_close_matches(leaf, names, n=5, cutoff=0.5)
        close += [n for n in names if leaf.lower() in n.lower() and n not in close][:5]
        where = f"{parent} has {len(names)} attributes" if names else f"{parent} was not found"
        return Diagnosis(
            installable=target,
            status="missing",
            summary=f"{full} does not exist; {where}",
            suggestions=close,
            log_tail=tail,
        )

    async def _names(self, ref: str, parent: str) -> list[str]:
        if not parent:
            return []
        validate.attr_path(parent)
        args = ["eval", "--json", NO_WRITE, f"{ref}#{parent}", "--apply", "builtins.attrNames"]
        try:
            return _json_list(await self._nix.run(args))
        except NixCommandError:
            return []


@dataclass(frozen=True)
class _Check:
    name: str
    ok: bool
    tail: str
    duration: float


def _json_list(result: NixResult) -> list[str]:
    if result.returncode != 0:
        raise NixCommandError(f"nix eval failed: {_first_error(clean_tail(result))}")
    value = json.loads(result.stdout)
    return [str(v) for v in value] if isinstance(value, list) else []


def _outputs(result: NixResult) -> dict[str, str]:
    try:
        built = json.loads(result.stdout)
    except ValueError:
        return {}
    first = built[0] if isinstance(built, list) and built else {}
    return dict(first.get("outputs") or {})


async def _quiet(line: str) -> None:
    return None


_BUILDS = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)


def register(server: MCPServer[Any], state: ServerState) -> None:
    """Add ``build_and_test`` and ``package_diagnose`` to ``server``."""
    tools = BuildTools(NixTools(state))
    server.add_tool(tools.build_and_test, title="Build and test", annotations=_BUILDS)
    server.add_tool(tools.package_diagnose, title="Diagnose a package", annotations=_BUILDS)
