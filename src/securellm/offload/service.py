"""Everything one offload instance holds, built once from the settings (no module globals)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from securellm.core.config import OffloadSettings, Settings
from securellm.offload.admission import Admission
from securellm.offload.backends.base import ModelServer
from securellm.offload.backends.llamacpp import LlamaCppServer, render_command
from securellm.offload.backends.ollama import OllamaServer
from securellm.offload.backends.ports import PortAllocator
from securellm.offload.bundled import bundled_model_path
from securellm.offload.chat_format import resolve, server_args
from securellm.offload.discovery import Candidate, discover
from securellm.offload.errors import BackendError
from securellm.offload.estimate import LoadParams
from securellm.offload.gpu import VramMonitor, build_reader
from securellm.offload.logs import server_log_path
from securellm.offload.metrics import Metrics
from securellm.offload.modes import ModeManager
from securellm.offload.ownership import Ownership
from securellm.offload.registry import ModelRecord, Registry, ScanReport
from securellm.offload.scheduler import Scheduler


def registry_path(settings: Settings) -> Path:
    return settings.offload.registry_path or settings.data_dir / "offload" / "registry.db"


def candidates(settings: OffloadSettings) -> list[Candidate]:
    """Discovery over the configured folders, plus the bundled Gemma folder when installed."""
    dirs = list(settings.model_dirs)
    if settings.include_bundled:
        bundled = bundled_model_path()
        if bundled is not None and bundled.parent not in dirs:
            dirs.append(bundled.parent)
    return discover(tuple(dirs), settings.ollama_dir, settings.huggingface_dir)


def scan(
    settings: OffloadSettings, registry: Registry, progress: Callable[..., None] | None = None
) -> ScanReport:
    """Discover and (re)read changed files; blocking, so call it from a worker thread."""
    return registry.scan(candidates(settings), progress)


class ProcessFactory:
    """Makes llama.cpp processes (or Ollama handles for Ollama models when configured)."""

    def __init__(
        self,
        settings: OffloadSettings,
        session: aiohttp.ClientSession,
        log_dir: Path,
        ownership: Ownership | None = None,
    ):
        self._settings = settings
        self._session = session
        self._log_dir = log_dir
        self._ownership = ownership
        self._ports = PortAllocator(*settings.port_range)

    def create(self, record: ModelRecord, params: LoadParams) -> ModelServer:
        if record.format == "ollama" and self._settings.ollama_url:
            return OllamaServer(record.id, record.id, self._settings.ollama_url, self._session)
        try:
            port = self._ports.take()
        except OSError as exc:
            raise BackendError(str(exc)) from exc
        values = {
            "python": sys.executable,
            "model": str(record.path),
            "port": str(port),
            "ctx": str(params.ctx),
            "ngl": str(params.ngl),
            "parallel": str(params.parallel),
        }
        argv = render_command(self._settings.llamacpp_command, values)
        argv.extend(self._extra_args(record))
        return LlamaCppServer(
            record.id,
            argv,
            port,
            server_log_path(self._log_dir, record.id),
            self._session,
            health_path=self._settings.health_path,
            load_timeout_s=self._settings.load_timeout_s,
            stop_timeout_s=self._settings.stop_timeout_s,
            ownership=self._ownership,
            die_with_offload=self._settings.die_with_offload,
            log_max_bytes=self._settings.server_log_max_bytes,
        )

    def _extra_args(self, record: ModelRecord) -> list[str]:
        chat = server_args(self._settings, resolve(self._settings, record))
        return [*self._settings.policy(record.id).extra_args, *chat]

    def release(self, server: ModelServer) -> None:
        if isinstance(server, LlamaCppServer):
            self._ports.give_back(server.port)


@dataclass
class OffloadService:
    """The registry, GPU monitor, scheduler, mode manager and HTTP session of one instance."""

    settings: Settings
    registry: Registry
    monitor: VramMonitor
    scheduler: Scheduler
    modes: ModeManager
    metrics: Metrics
    session: aiohttp.ClientSession
    admission: Admission
    ownership: Ownership
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    scan_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    initial_scan: asyncio.Task[ScanReport] | None = None

    @classmethod
    def create(cls, settings: Settings) -> OffloadService:
        """Build the service; call inside a running event loop (it opens an HTTP session)."""
        config = settings.offload
        registry = Registry(registry_path(settings))
        monitor = VramMonitor(build_reader(config), ttl_s=config.vram_cache_ms / 1000)
        metrics = Metrics()
        session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            connector=aiohttp.TCPConnector(limit=256),
        )
        ownership = Ownership(settings.state_dir / "offload" / "servers.json")
        factory = ProcessFactory(config, session, settings.log_dir / "offload", ownership)
        scheduler = Scheduler(config, registry, monitor, factory, metrics)
        modes = ModeManager(config, monitor, scheduler)
        admission = Admission(config)
        return cls(
            settings, registry, monitor, scheduler, modes, metrics, session, admission, ownership
        )

    async def recover(self) -> None:
        """Stop model servers a crashed offload left behind (see ``offload.ownership``)."""
        stop_s = self.settings.offload.stop_timeout_s
        await asyncio.to_thread(self.ownership.recover, stop_s)

    async def scan(self) -> ScanReport:
        async with self.scan_lock:  # one scan at a time; a second caller waits for its own
            return await asyncio.to_thread(scan, self.settings.offload, self.registry)

    def scan_in_background(self) -> None:
        """Start the first scan without waiting: ``/health`` answers meanwhile, and a model
        asked for by id before the scan reaches it is read on demand (``Registry.find``).
        """
        found = candidates(self.settings.offload)  # listing folders is quick; reading is not
        self.registry.announce(found)
        self.initial_scan = asyncio.create_task(self._scan(found), name="initial scan")

    async def _scan(self, found: list[Candidate]) -> ScanReport:
        async with self.scan_lock:
            return await asyncio.to_thread(self.registry.scan, found)

    async def scanned(self) -> None:
        """Wait for the first scan (listings are complete only after it); never raises."""
        if self.initial_scan is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.initial_scan)

    def start_background(self) -> None:
        config = self.settings.offload
        ttls = [config.idle_ttl_s, *(m.ttl_s for m in config.models if m.ttl_s)]
        interval = max(0.05, min(1.0, min(ttls) / 4))
        reaper = self.scheduler.run_reaper(interval)
        self.tasks.append(asyncio.create_task(reaper, name="idle reaper"))

    async def close(self) -> None:
        await self.scanned()  # a scan in a worker thread cannot be cancelled; it is short
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.scheduler.unload_all()
        await self.session.close()
        self.registry.close()
