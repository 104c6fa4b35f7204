"""Offline Nix knowledge: options.json files and the local package list, indexed on first use."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path

import anyio

from securellm.core.config import McpSettings
from securellm.mcp.errors import InvalidInputError, NixUnavailableError
from securellm.mcp.nix import options, packages
from securellm.mcp.nix.localindex import Doc, LocalIndex

Reader = Callable[[str, Path], Iterator[Doc]]
Notify = Callable[[str], Awaitable[None]]
LIST_TIMEOUT_S = 900.0  # all of nixpkgs with --meta takes a minute or two


class OfflineNix:
    """Options and packages answered from local files, never from the network."""

    def __init__(
        self, mcp: McpSettings, data_dir: Path, environ: Mapping[str, str], home: Path
    ) -> None:
        self.index = LocalIndex(data_dir / "nix-index.db")
        self._listing = data_dir / "nixpkgs-packages.json"
        self._packages_file = mcp.nix_packages_file
        self._option_files = options.configured(mcp.nix_options_files, environ)
        self._environ = dict(environ)
        self._home = home
        self._lock = anyio.Lock()

    @property
    def option_sources(self) -> list[str]:
        return list(self._option_files)

    async def _ensure(self, source: str, path: Path, reader: Reader) -> None:
        async with self._lock:  # one rebuild at a time; the others then find it current
            if not await anyio.to_thread.run_sync(self.index.is_current, source, path):
                docs = functools.partial(reader, source, path)
                await anyio.to_thread.run_sync(lambda: self.index.replace(source, path, docs()))

    async def _option_sources(self, source: str | None) -> list[str]:
        if not self._option_files:
            raise NixUnavailableError(
                'no options.json to search: set [mcp] nix_options_files = {nixos = "/path/'
                'options.json"} (build one with config.system.build.manual.optionsJSON)'
            )
        if source is not None and source not in self._option_files:
            known = ", ".join(self._option_files)
            raise InvalidInputError(f"unknown options source {source!r}; configured: {known}")
        chosen = [source] if source else list(self._option_files)
        for name in chosen:
            path = self._option_files[name]
            if not path.is_file():
                raise NixUnavailableError(f"options file for {name} is missing: {path}")
            await self._ensure(name, path, options.read_options)
        return chosen

    async def options_search(self, query: str, source: str | None, limit: int) -> list[Doc]:
        sources = await self._option_sources(source)
        return await anyio.to_thread.run_sync(self.index.search, query, sources, limit)

    async def option_info(self, name: str, source: str | None) -> tuple[Doc | None, list[str]]:
        """The option, or ``None`` and the names under ``name`` (``services.nginx`` → …)."""
        for src in await self._option_sources(source):
            doc = await anyio.to_thread.run_sync(self.index.get, src, name)
            if doc is not None:
                return doc, []
        children: list[str] = []
        for src in await self._option_sources(source):
            children += await anyio.to_thread.run_sync(self.index.names_like, src, name + ".", 50)
        return None, children

    async def packages(self, query: str, limit: int, notify: Notify | None = None) -> list[Doc]:
        """Packages matching ``query``; ``notify`` hears when the local nixpkgs is listed."""
        path = await self._package_listing(notify)
        await self._ensure("packages", path, lambda _source, p: packages.read_packages(p))
        return await anyio.to_thread.run_sync(self.index.search, query, ["packages"], limit)

    async def _package_listing(self, notify: Notify | None) -> Path:
        """The configured listing, else the local nixpkgs listed once (again when it moves)."""
        if self._packages_file is not None:
            if not self._packages_file.is_file():
                raise NixUnavailableError(f"nix_packages_file is missing: {self._packages_file}")
            return self._packages_file
        nixpkgs = packages.local_nixpkgs(self._environ, self._home)
        if nixpkgs is None:
            raise NixUnavailableError(packages.NO_NIXPKGS)
        marker = self._listing.with_suffix(".source")
        async with self._lock:
            stale = not self._listing.is_file() or _read(marker) != str(nixpkgs.resolve())
            if stale:
                if notify is not None:
                    await notify(f"listing {nixpkgs} once (all of nixpkgs takes a minute or two)")
                await packages.list_packages(nixpkgs, self._listing, LIST_TIMEOUT_S)
                marker.write_text(str(nixpkgs.resolve()))
        return self._listing


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None
