"""NixOS / home-manager options from local options.json files, and offline package search."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from support.require import require_binary

OPTIONS = {
    "services.nginx.enable": {
        "declarations": ["nixos/modules/services/web-servers/nginx/default.nix"],
        "default": {"_type": "literalExpression", "text": "false"},
        "description": "Whether to enable Nginx Web Server.",
        "example": {"_type": "literalExpression", "text": "true"},
        "loc": ["services", "nginx", "enable"],
        "readOnly": False,
        "type": "boolean",
    },
    "services.nginx.virtualHosts": {
        "declarations": [{"name": "<nixpkgs/nixos/modules/nginx.nix>", "url": "https://x/n.nix"}],
        "default": {"_type": "literalExpression", "text": "{ }"},
        "description": {"_type": "mdDoc", "text": "Declarative vhost configuration."},
        "loc": ["services", "nginx", "virtualHosts"],
        "readOnly": False,
        "type": "attribute set of (submodule)",
    },
    "services.openssh.settings.PermitRootLogin": {
        "declarations": ["nixos/modules/services/networking/ssh/sshd.nix"],
        "default": {"_type": "literalExpression", "text": '"prohibit-password"'},
        "description": "Whether the root user can login using ssh.",
        "loc": ["services", "openssh", "settings", "PermitRootLogin"],
        "readOnly": False,
        "type": 'one of "yes", "prohibit-password", "no"',
    },
    "networking.firewall.allowedTCPPorts": {
        "declarations": ["nixos/modules/services/networking/firewall.nix"],
        "default": {"_type": "literalExpression", "text": "[ ]"},
        "description": "List of TCP ports on which incoming connections are accepted.",
        "example": {"_type": "literalExpression", "text": "[ 22 80 ]"},
        "loc": ["networking", "firewall", "allowedTCPPorts"],
        "readOnly": False,
        "type": "list of (port number)",
    },
}
HOME_MANAGER = {
    "programs.git.enable": {
        "declarations": ["modules/programs/git.nix"],
        "default": False,
        "description": "Whether to enable Git.",
        "loc": ["programs", "git", "enable"],
        "readOnly": False,
        "type": "boolean",
    },
}
PACKAGES = {
    "ripgrep": {
        "name": "ripgrep-14.1.0",
        "pname": "ripgrep",
        "version": "14.1.0",
        "system": "x86_64-linux",
        "meta": {"description": "Utility that combines the usability of The Silver Searcher"},
    },
    "fd": {
        "name": "fd-9.0.0",
        "pname": "fd",
        "version": "9.0.0",
        "system": "x86_64-linux",
        "meta": {"description": "Simple, fast and user-friendly alternative to find"},
    },
}
NIXPKGS = """
{ ... }: {
  hello = builtins.derivation {
    name = "hello-2.12"; pname = "hello"; version = "2.12"; system = "x86_64-linux";
    builder = "/bin/sh"; meta.description = "A program that produces a familiar greeting";
  };
}
"""


@pytest.fixture
def option_files(tmp_path: Path) -> dict[str, str]:
    nixos = tmp_path / "nixos-options.json"
    nixos.write_text(json.dumps(OPTIONS))
    hm = tmp_path / "hm-options.json"
    hm.write_text(json.dumps(HOME_MANAGER))
    return {"nixos": str(nixos), "home-manager": str(hm)}


async def test_options_search_ranks_the_named_option_first(
    make_harness: Any, option_files: dict[str, str]
) -> None:
    async with make_harness(nix_options_files=option_files) as h:
        found = await h.call("nixos_options_search", query="nginx enable")
    assert found["options"][0]["name"] == "services.nginx.enable"


async def test_options_search_finds_words_of_the_description(
    make_harness: Any, option_files: dict[str, str]
) -> None:
    async with make_harness(nix_options_files=option_files) as h:
        found = await h.call("nixos_options_search", query="incoming connections")
    assert [o["name"] for o in found["options"]] == ["networking.firewall.allowedTCPPorts"]


async def test_options_search_covers_every_configured_source(
    make_harness: Any, option_files: dict[str, str]
) -> None:
    async with make_harness(nix_options_files=option_files) as h:
        found = await h.call("nixos_options_search", query="enable")
        only_hm = await h.call("nixos_options_search", query="enable", source="home-manager")
    assert {o["source"] for o in found["options"]} == {"nixos", "home-manager"}
    assert [o["name"] for o in only_hm["options"]] == ["programs.git.enable"]


async def test_option_info_gives_type_default_example_and_declarations(
    make_harness: Any, option_files: dict[str, str]
) -> None:
    async with make_harness(nix_options_files=option_files) as h:
        info = await h.call("nixos_option_info", option="networking.firewall.allowedTCPPorts")
    assert info["type"] == "list of (port number)"
    assert info["default"] == "[ ]"
    assert info["example"] == "[ 22 80 ]"
    assert info["declarations"] == ["nixos/modules/services/networking/firewall.nix"]


async def test_option_info_reads_md_doc_descriptions_and_declaration_urls(
    make_harness: Any, option_files: dict[str, str]
) -> None:
    async with make_harness(nix_options_files=option_files) as h:
        info = await h.call("nixos_option_info", option="services.nginx.virtualHosts")
    assert info["description"] == "Declarative vhost configuration."
    assert info["declarations"] == ["https://x/n.nix"]


async def test_option_info_of_a_prefix_lists_the_options_under_it(
    make_harness: Any, option_files: dict[str, str]
) -> None:
    async with make_harness(nix_options_files=option_files) as h:
        text = await h.error("nixos_option_info", option="services.nginx")
    assert "services.nginx.enable" in text
    assert "services.nginx.virtualHosts" in text


async def test_an_edited_options_file_is_indexed_again(
    make_harness: Any, option_files: dict[str, str]
) -> None:
    async with make_harness(nix_options_files=option_files) as h:
        await h.call("nixos_options_search", query="nginx")
        changed = {**OPTIONS, "services.caddy.enable": {**OPTIONS["services.nginx.enable"]}}
        path = Path(option_files["nixos"])
        path.write_text(json.dumps(changed))
        os.utime(path, ns=(1, 1))  # a different mtime even on a coarse clock
        found = await h.call("nixos_options_search", query="caddy")
    assert [o["name"] for o in found["options"]] == ["services.caddy.enable"]


async def test_options_search_without_a_file_says_how_to_configure_one(make_harness: Any) -> None:
    async with make_harness(nix_options_files={}) as h:
        text = await h.error("nixos_options_search", query="nginx")
    assert "nix_options_files" in text


async def test_an_unknown_source_is_refused_by_name(
    make_harness: Any, option_files: dict[str, str]
) -> None:
    async with make_harness(nix_options_files=option_files) as h:
        text = await h.error("nixos_options_search", query="git", source="darwin")
    assert "unknown options source 'darwin'" in text


async def test_nix_search_reads_a_package_listing_offline(
    make_harness: Any, tmp_path: Path
) -> None:
    listing = tmp_path / "packages.json"
    listing.write_text(json.dumps(PACKAGES))
    async with make_harness(nix_packages_file=str(listing)) as h:
        found = await h.call("nix_search", query="ripgrep")
    assert found["packages"][0]["attr"] == "ripgrep"
    assert found["packages"][0]["version"] == "14.1.0"
    assert found["flake_ref"] == "local"


async def test_nix_search_finds_packages_by_description_words(
    make_harness: Any, tmp_path: Path
) -> None:
    listing = tmp_path / "packages.json"
    listing.write_text(json.dumps(PACKAGES))
    async with make_harness(nix_packages_file=str(listing)) as h:
        found = await h.call("nix_search", query="alternative to find")
    assert [p["attr"] for p in found["packages"]] == ["fd"]


async def test_nix_search_without_a_local_nixpkgs_is_a_clear_error(
    make_harness: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NIX_PATH", "")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    async with make_harness() as h:
        text = await h.error("nix_search", query="ripgrep")
    assert "no local nixpkgs to search offline" in text


async def test_nix_search_lists_the_nixpkgs_named_in_nix_path(
    make_harness: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_binary("nix-env")
    nixpkgs = tmp_path / "nixpkgs"
    nixpkgs.mkdir()
    (nixpkgs / "default.nix").write_text(NIXPKGS)
    monkeypatch.setenv("NIX_PATH", f"nixpkgs={nixpkgs}")
    async with make_harness() as h:
        found = await h.call("nix_search", query="greeting")
    assert [p["attr"] for p in found["packages"]] == ["hello"]
    assert found["packages"][0]["version"] == "2.12"


async def test_the_first_listing_of_the_local_nixpkgs_reports_progress_once(
    make_harness: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_binary("nix-env")
    nixpkgs = tmp_path / "nixpkgs"
    nixpkgs.mkdir()
    (nixpkgs / "default.nix").write_text(NIXPKGS)
    monkeypatch.setenv("NIX_PATH", f"nixpkgs={nixpkgs}")
    messages: list[str] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    async with make_harness() as h:
        for _ in range(2):
            await h.client.call_tool("nix_search", {"query": "hello"}, progress_callback=progress)
    assert len([m for m in messages if m.startswith("listing")]) == 1


async def test_nix_search_lists_the_nixpkgs_pinned_in_the_user_registry(
    make_harness: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_binary("nix-env")
    nixpkgs = tmp_path / "pinned"
    nixpkgs.mkdir()
    (nixpkgs / "default.nix").write_text(NIXPKGS)
    registry = tmp_path / "config" / "nix" / "registry.json"
    registry.parent.mkdir(parents=True)
    entry = {
        "from": {"id": "nixpkgs", "type": "indirect"},
        "to": {"path": str(nixpkgs), "type": "path"},
    }
    registry.write_text(json.dumps({"flakes": [entry], "version": 2}))
    monkeypatch.setenv("NIX_PATH", "")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    async with make_harness() as h:
        found = await h.call("nix_search", query="hello")
    assert [p["attr"] for p in found["packages"]] == ["hello"]


async def test_nix_search_refuses_a_query_starting_with_a_dash(make_harness: Any) -> None:
    async with make_harness() as h:
        text = await h.error("nix_search", query="--help", flake_ref="nixpkgs")
    assert "must not start with '-'" in text


async def test_an_options_file_that_is_not_json_is_a_tool_error(
    make_harness: Any, tmp_path: Path
) -> None:
    broken = tmp_path / "options.json"
    broken.write_text("{ not json")
    async with make_harness(nix_options_files={"nixos": str(broken)}) as h:
        text = await h.error("nixos_options_search", query="nginx")
    assert "is not JSON" in text


async def test_a_missing_option_points_to_the_search(
    make_harness: Any, option_files: dict[str, str]
) -> None:
    async with make_harness(nix_options_files=option_files) as h:
        text = await h.error("nixos_option_info", option="services.nothing.enable")
    assert "no option named services.nothing.enable" in text
