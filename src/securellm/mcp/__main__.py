"""``python -m securellm.mcp [--config F] [--http HOST:PORT]``: the server without the full CLI."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from securellm.core.config import ConfigError, load_settings
from securellm.mcp.errors import HttpStartError, InvalidInputError
from securellm.mcp.run import parse_http_address, serve, with_tools


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m securellm.mcp")
    parser.add_argument("--config", "-c", type=Path, default=None)
    parser.add_argument("--http", default=None, metavar="HOST:PORT")
    parser.add_argument("--tools", default=None, metavar="GROUPS", help="e.g. knowledge,nix")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
        http = parse_http_address(args.http) if args.http else None
        if args.tools is not None:
            settings = with_tools(settings, args.tools)
    except (ConfigError, InvalidInputError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    try:
        serve(settings, http=http)
    except HttpStartError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
