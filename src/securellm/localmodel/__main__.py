"""``python -m securellm.localmodel ARGS``: llama-cpp-python's server (same ARGS) + our formats."""

from __future__ import annotations

from securellm.localmodel.formats import register


def main() -> None:
    register()
    from llama_cpp.server.__main__ import main as serve

    serve()


if __name__ == "__main__":
    main()
