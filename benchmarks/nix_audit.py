"""Audit speed on a generated 500-module NixOS repository.

Prints, side by side in the same run: the full audit (all rules), the blueprint, and the
floor under them: tree-sitter parsing the same files with no extraction at all. With
--nix it also times `nix-instantiate --parse` over every file (one process per file).

    .venv/bin/python benchmarks/nix_audit.py [--modules 500] [--repeat 5] [--nix]
    .venv/bin/python benchmarks/nix_audit.py --repo DIR   # a real checkout instead, e.g.
        home-manager (3,496 files): the issue's target is under 5 s for 3,500 files
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tree_sitter import Parser

from securellm.nixaudit import audit_repository, generate_blueprint
from securellm.nixaudit.parser import LANGUAGE

CATEGORIES = 25


def module_text(category: int, index: int) -> str:
    """A module of realistic shape: header, options, mkIf config, services and packages."""
    name = f"c{category}m{index}"
    aliases = "\n".join(f'      {name}-a{i} = "echo {i}";' for i in range(25))
    return f"""# Purpose: generated module {name}
{{ config, lib, pkgs, ... }}:

with lib;
let
  cfg = config.bench.{name};
in
{{
  options.bench.{name} = {{
    enable = mkEnableOption "module {name}";
    port = mkOption {{
      type = types.port;
      default = {8000 + index};
      description = "Port of {name}";
    }};
  }};

  config = mkIf cfg.enable {{
    services.{name} = {{
      enable = true;
      settings.threads = mkDefault {index % 8 + 1};
    }};
    nix.settings.max-jobs = mkDefault {index % 16 + 1};
    systemd.services.{name}.serviceConfig = {{
      MemoryMax = "1G";
      Restart = "on-failure";
    }};
    environment.shellAliases = {{
{aliases}
    }};
    environment.systemPackages = with pkgs; [ hello jq ripgrep ];
    # TODO: tune {name}
  }};
}}
"""


def build_repo(root: Path, modules: int) -> list[Path]:
    per_category = max(1, modules // CATEGORIES)
    files = []
    for category in range(CATEGORIES):
        directory = root / "modules" / f"cat{category}"
        directory.mkdir(parents=True)
        names = [f"m{i}.nix" for i in range(per_category)]
        imports = "\n".join(f"    ./{n}" for n in names)
        (directory / "default.nix").write_text(
            f"{{ ... }}:\n{{\n  imports = [\n{imports}\n  ];\n}}\n"
        )
        for index, name in enumerate(names):
            (directory / name).write_text(module_text(category, index))
            files.append(directory / name)
    cats = "\n".join(f"    ./modules/cat{c}" for c in range(CATEGORIES))
    (root / "configuration.nix").write_text(f"{{ ... }}:\n{{\n  imports = [\n{cats}\n  ];\n}}\n")
    (root / ".gitignore").write_text("result\nresult-*\n")
    return sorted(root.rglob("*.nix"))


def timed(action: Callable[[], object], repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return min(samples), statistics.median(samples)


def parse_only(files: list[Path]) -> None:
    parser = Parser(LANGUAGE)
    for path in files:
        parser.parse(path.read_bytes())


def nix_parse(files: list[Path], binary: str) -> None:
    for path in files:
        subprocess.run([binary, "--parse", str(path)], capture_output=True, check=True)


def measure(root: Path, files: list[Path], opts: argparse.Namespace) -> None:
    lines = sum(p.read_bytes().count(b"\n") for p in files)
    report = audit_repository(root)
    print(f"repository: {len(files)} .nix files, {lines} lines, {len(report.findings)} findings")
    rows = [
        ("tree-sitter parse only (floor)", timed(lambda: parse_only(files), opts.repeat)),
        ("nixaudit audit_repository", timed(lambda: audit_repository(root), opts.repeat)),
        ("nixaudit generate_blueprint", timed(lambda: generate_blueprint(root), opts.repeat)),
    ]
    binary = shutil.which("nix-instantiate")
    if opts.nix and binary:
        rows.append(
            ("nix-instantiate --parse per file", timed(lambda: nix_parse(files, binary), 1))
        )
    print(f"{'what':<36} {'best s':>8} {'median s':>9}")
    for label, (best, median) in rows:
        print(f"{label:<36} {best:>8.3f} {median:>9.3f}")


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--modules", type=int, default=500)
    args.add_argument("--repeat", type=int, default=5)
    args.add_argument("--nix", action="store_true", help="also time nix-instantiate --parse")
    args.add_argument("--repo", type=Path, default=None, help="audit this checkout instead")
    opts = args.parse_args()
    if opts.repo is not None:
        measure(opts.repo, sorted(p for p in opts.repo.rglob("*.nix") if p.is_file()), opts)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        measure(root, build_repo(root, opts.modules), opts)


if __name__ == "__main__":
    main()
