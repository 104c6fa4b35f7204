"""``python -m securellm.localmodel [--no-repack] ARGS``: llama-cpp-python's server + our formats.

ARGS are llama-cpp-python's own (``--model``, ``--port``, ``--chat_format``...). The
``transcript`` chat format is registered first, and the app gains llama.cpp's ``GET /props``
(the loaded context, see :mod:`securellm.localmodel.props`). ``--no-repack`` clears llama.cpp's
``use_extra_bufts`` model parameter (llama-server's ``--no-repack``): the repacked AMX
kernels of some builds crash on CPUs whose AMX tiles the kernel does not enable.
"""

from __future__ import annotations

import sys
from typing import Any

from securellm.localmodel.formats import register
from securellm.localmodel.props import with_props


def _disable_repack() -> None:
    import llama_cpp.llama_cpp as lib

    original = lib.llama_model_default_params

    def without_repack() -> Any:
        params = original()
        params.use_extra_bufts = False
        return params

    lib.llama_model_default_params = without_repack


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--no-repack" in args:
        args.remove("--no-repack")
        _disable_repack()
    register()
    sys.argv = [sys.argv[0], *args]
    import llama_cpp.server.__main__ as server

    server.create_app = with_props(server.create_app)  # type: ignore[attr-defined]
    server.main()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()
