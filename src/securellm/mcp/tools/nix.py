"""``nix_*`` tools and ``cache_stats``.

Everything that evaluates or fetches runs inside the isolation's view
(:mod:`securellm.mcp.nix.isolate`); what builds is realised from store derivations outside
it. No tool writes ``flake.lock`` (``--no-write-lock-file``): the roots are read-only there.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field

from securellm.core.config.mcp import default_flake_roots
from securellm.mcp.errors import NixCommandError
from securellm.mcp.nix import validate
from securellm.mcp.nix.cache import CacheStats
from securellm.mcp.nix.isolate import Isolation, View
from securellm.mcp.nix.offline import OfflineNix
from securellm.mcp.nix.refs import FlakeRefs
from securellm.mcp.nix.runner import LineCallback, NixResult, drv_path
from securellm.mcp.state import ServerState

GROUP = "nix"  # the tool group these tools belong to (``[mcp] tools``)

FlakeRef = Annotated[
    str,
    Field(description="'.', /path, github:o/r or nixpkgs"),
]
Attr = Annotated[str, Field(description="e.g. packages.x86_64-linux.hello")]

NO_WRITE = "--no-write-lock-file"
DRV_PATHS = "builtins.mapAttrs (name: check: check.drvPath)"
_SYSTEM = re.compile(r"^[A-Za-z0-9_]+-[A-Za-z0-9_]+$")
# ANSI escape sequences (CSI, OSC, two-byte), then any other C0/C1 control byte left over.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

_READ = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)


class FlakeInfo(BaseModel):
    """JSON printed by ``nix flake metadata`` / ``nix flake show``."""

    flake_ref: str
    data: dict[str, Any]
    cached: bool


class CheckResult(BaseModel):
    """Outcome of ``nix flake check``."""

    flake_ref: str
    ok: bool
    returncode: int
    duration_s: float
    log_tail: str


class EvalResult(BaseModel):
    """A value from ``nix eval --json``."""

    installable: str
    value: Any


class SearchHitNix(BaseModel):
    attr: str
    pname: str | None = None
    version: str | None = None
    description: str | None = None


class NixSearchResult(BaseModel):
    flake_ref: str
    query: str
    packages: list[SearchHitNix]
    cached: bool


class BuildResult(BaseModel):
    """Store paths produced by ``nix build``."""

    installable: str
    drv_path: str | None
    outputs: dict[str, str]
    duration_s: float
    log_tail: str


def _parse_json(result: NixResult, what: str) -> Any:
    if result.returncode != 0:
        raise NixCommandError(f"{what} failed (exit {result.returncode}): {_tail(result)}")
    try:
        return json.loads(result.stdout)
    except ValueError:
        raise NixCommandError(f"{what} printed something that is not JSON") from None


def _tail(result: NixResult, limit: int = 1500) -> str:
    text = result.stderr_tail.strip()
    return text[-limit:] if text else "no error output"


def _check_result(ref: str, result: NixResult, duration_s: float) -> CheckResult:
    return CheckResult(
        flake_ref=ref,
        ok=result.returncode == 0,
        returncode=result.returncode,
        duration_s=duration_s,
        log_tail=result.stderr_tail[-4000:],
    )


def drv_paths(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise NixCommandError("nix eval of the checks printed something other than drvPaths")
    return {str(name): drv_path(path) for name, path in value.items()}


def plain_text(line: str) -> str:
    """``line`` without colours, cursor moves or other control bytes (``\\r`` redraws keep
    their last part), fit for a progress message."""
    text = _ANSI.sub("", line).rsplit("\r", 1)[-1]
    return _CONTROL.sub("", text).strip()


def progress_callback(ctx: Context) -> LineCallback:
    count = 0

    async def report(line: str) -> None:
        nonlocal count
        text = plain_text(line)
        if not text:
            return
        count += 1
        await ctx.report_progress(count, None, text[:200])

    return report


class NixTools:
    """The Nix tools (``nix_*``, registered below) and the steps other Nix tools build on
    (:meth:`run`, :meth:`build`, :meth:`realise`, :meth:`check_derivations`)."""

    def __init__(self, state: ServerState) -> None:
        self._state = state
        self._timeout = state.mcp.nix_timeout_s
        self._build_timeout = state.mcp.nix_build_timeout_s
        roots = state.mcp.nix_allowed_roots
        if roots is None:
            roots = default_flake_roots(Path.cwd(), Path.home())
        self.refs = FlakeRefs(roots, cwd=Path.cwd(), list_registry=self._registry)
        view = View(
            self.refs.roots,
            paths=state.mcp.nix_isolation_paths,
            cwd=Path.cwd(),
            environ=os.environ,  # passed through to nix, less what looks like a credential
            home=Path.home(),
        )
        self.isolation = Isolation(state.mcp.nix_isolation, view, bwrap=state.mcp.nix_bwrap_binary)
        self.offline = OfflineNix(state.mcp, state.settings.data_dir, os.environ, Path.home())
        self._registry_text: tuple[float, str] | None = None
        self._registry_lock = anyio.Lock()

    async def _registry(self) -> str:
        """``nix registry list``, kept for the cache TTL (registry names are checked often);
        calls that arrive while it runs wait for that one instead of starting their own."""
        async with self._registry_lock:
            now = time.monotonic()
            cached = self._registry_text
            if cached and now - cached[0] < self._state.mcp.cache_ttl_s:
                return cached[1]
            result = await self.run(["registry", "list"])
            if result.returncode != 0:
                raise NixCommandError(
                    "nix registry list failed, so where a registry name points cannot be "
                    f"checked (exit {result.returncode}): {_tail(result)}"
                )
            self._registry_text = (now, result.stdout)
            return result.stdout

    async def run(
        self,
        args: list[str],
        *,
        timeout_s: float | None = None,
        on_line: LineCallback | None = None,
    ) -> NixResult:
        """``nix <args>`` inside the view: evaluating and fetching never happen outside it."""
        return await self._state.nix.run(
            args,
            timeout_s=self._timeout if timeout_s is None else timeout_s,
            on_stderr_line=on_line,
            isolation=self.isolation,
        )

    async def realise(self, drv_paths: list[str], on_line: LineCallback) -> NixResult:
        """Build store derivations outside the view, in Nix's sandbox (no fallback to none)."""
        return await self._state.nix.realise(
            drv_paths, timeout_s=self._build_timeout, on_stderr_line=on_line
        )

    async def installable(self, flake_ref: str, attr: str) -> str:
        checked_attr = validate.attr_path(attr)  # first: a bad attr starts no registry lookup
        return f"{await self.refs.check(flake_ref)}#{checked_attr}"

    async def _cached_json(self, kind: str, args: list[str]) -> tuple[Any, bool]:
        key = (kind, *args)
        hit = self._state.cache.get(key)
        if hit is not None:
            return hit, True
        result = await self.run(args)
        data = _parse_json(result, f"nix {kind}")
        self._state.cache.put(key, data)
        return data, False

    async def nix_flake_metadata(self, flake_ref: FlakeRef) -> FlakeInfo:
        """Locked inputs, revision and description of a flake (cached)."""
        ref = await self.refs.check(flake_ref)
        data, cached = await self._cached_json(
            "metadata", ["flake", "metadata", "--json", NO_WRITE, ref]
        )
        return FlakeInfo(flake_ref=ref, data=data, cached=cached)

    async def nix_flake_show(self, flake_ref: FlakeRef) -> FlakeInfo:
        """The tree of a flake's outputs (packages, nixosConfigurations, …), cached."""
        ref = await self.refs.check(flake_ref)
        data, cached = await self._cached_json("show", ["flake", "show", "--json", NO_WRITE, ref])
        return FlakeInfo(flake_ref=ref, data=data, cached=cached)

    async def nix_flake_check(self, flake_ref: FlakeRef, ctx: Context) -> CheckResult:
        """``nix flake check``: evaluate every output, build this system's checks; a failure
        is ok=false with the log."""
        ref = await self.refs.check(flake_ref)
        progress = progress_callback(ctx)
        if not self.isolation.enabled:  # "off": one process evaluates and builds, as before
            result = await self.run(
                ["flake", "check", NO_WRITE, ref], timeout_s=self._build_timeout, on_line=progress
            )
            return _check_result(ref, result, result.duration_s)
        evaluated = await self.run(
            ["flake", "check", "--no-build", NO_WRITE, ref],
            timeout_s=self._build_timeout,
            on_line=progress,
        )
        if evaluated.returncode != 0:
            return _check_result(ref, evaluated, evaluated.duration_s)
        checks = await self.check_derivations(ref)
        if not checks:
            return _check_result(ref, evaluated, evaluated.duration_s)
        built = await self.realise(list(checks.values()), progress)
        return _check_result(ref, built, evaluated.duration_s + built.duration_s)

    async def system(self) -> str:
        """This machine's Nix system name (``x86_64-linux``), checked."""
        system = (await self._state.nix.facts()).system
        if not _SYSTEM.match(system):
            raise NixCommandError(f"nix reports an unexpected system name {system[:80]!r}")
        return system

    async def check_derivations(self, ref: str) -> dict[str, str]:
        """The store derivations of ``checks.<this system>`` by name (what ``flake check``
        builds)."""
        system = await self.system()
        shown = _parse_json(
            await self.run(["flake", "show", "--json", NO_WRITE, ref]), "nix flake show"
        )
        checks = shown.get("checks") if isinstance(shown, dict) else None
        if not isinstance(checks, dict) or not checks.get(system):
            return {}
        args = ["eval", "--json", NO_WRITE, f"{ref}#checks.{system}", "--apply", DRV_PATHS]
        return drv_paths(_parse_json(await self.run(args), "nix eval of the checks"))

    async def nix_eval(self, flake_ref: FlakeRef, attr: Attr) -> EvalResult:
        """Evaluate one attribute of a flake to JSON (no free-form expressions)."""
        target = await self.installable(flake_ref, attr)
        result = await self.run(["eval", "--json", NO_WRITE, target])
        return EvalResult(installable=target, value=_parse_json(result, "nix eval"))

    async def nix_search(
        self,
        ctx: Context,
        query: Annotated[str, Field(description="package name or words")],
        flake_ref: Annotated[
            str | None, Field(description="search this flake instead (needs it reachable)")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=200)] = 30,
    ) -> NixSearchResult:
        """Search packages: the local nixpkgs, offline (default), or a flake's (cached)."""
        if flake_ref is None:
            notify = progress_callback(ctx)
            found = await self.offline.packages(validate.search_words(query), limit, notify)
            hits = [SearchHitNix(attr=doc.name, **doc.data) for doc in found]
            return NixSearchResult(flake_ref="local", query=query, packages=hits, cached=True)
        term = validate.package_name(query)
        ref = await self.refs.check(flake_ref)
        data, cached = await self._cached_json("search", ["search", "--json", NO_WRITE, ref, term])
        packages = [
            SearchHitNix(
                attr=attr,
                pname=info.get("pname"),
                version=info.get("version"),
                description=info.get("description"),
            )
            for attr, info in (data or {}).items()
        ][:limit]
        return NixSearchResult(flake_ref=ref, query=term, packages=packages, cached=cached)

    async def nix_build(self, flake_ref: FlakeRef, attr: Attr, ctx: Context) -> BuildResult:
        """Build a flake output without a result link; reports progress from the build log."""
        target = await self.installable(flake_ref, attr)
        result, duration_s = await self.build(target, progress_callback(ctx))
        built = _parse_json(result, "nix build")
        first = built[0] if isinstance(built, list) and built else {}
        return BuildResult(
            installable=target,
            drv_path=first.get("drvPath"),
            outputs=dict(first.get("outputs") or {}),
            duration_s=duration_s,
            log_tail=result.stderr_tail[-2000:],
        )

    async def build(self, target: str, progress: LineCallback) -> tuple[NixResult, float]:
        """Isolated: ``target``'s ``drvPath`` is evaluated inside the view, then that store
        derivation is built outside it, in Nix's build sandbox. "off": one ``nix build``."""
        if not self.isolation.enabled:
            args = ["build", "--no-link", "--json", "-L", NO_WRITE, target]
            result = await self.run(args, timeout_s=self._build_timeout, on_line=progress)
            return result, result.duration_s
        evaluated = await self.run(
            ["eval", "--raw", NO_WRITE, f"{target}.drvPath"], on_line=progress
        )
        if evaluated.returncode != 0:
            raise NixCommandError(
                f"nix eval of {target}.drvPath failed (exit {evaluated.returncode}): "
                f"{_tail(evaluated)}"
            )
        result = await self.realise([drv_path(evaluated.stdout)], progress)
        return result, evaluated.duration_s + result.duration_s

    def cache_stats(self) -> CacheStats:
        """Hits, misses and size of the Nix metadata/search cache."""
        return self._state.cache.stats()


_CHECK = ToolAnnotations(  # it builds the checks, as nix_build builds
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
_BUILD = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
_LOCAL = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


def register(server: MCPServer[Any], state: ServerState) -> None:
    """Add the Nix tools to ``server``."""
    tools = NixTools(state)
    server.add_tool(tools.nix_flake_metadata, title="Flake metadata", annotations=_READ)
    server.add_tool(tools.nix_flake_show, title="Flake outputs", annotations=_READ)
    server.add_tool(tools.nix_eval, title="Evaluate a flake attribute", annotations=_READ)
    server.add_tool(tools.nix_search, title="Search packages", annotations=_READ)
    server.add_tool(tools.nix_flake_check, title="Check a flake", annotations=_CHECK)
    server.add_tool(tools.nix_build, title="Build a flake output", annotations=_BUILD)
    server.add_tool(tools.cache_stats, title="Nix cache statistics", annotations=_LOCAL)
