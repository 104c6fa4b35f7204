# The securellm application, built from this repository with nixpkgs' Python tooling.
#
# The optional `local` extra (llama-cpp-python and the bundled Gemma GGUF) is left out: on
# NixOS the offload service runs nixpkgs' own `llama-server` (see nix/examples/).
{
  lib,
  python3Packages,
  bubblewrap,
  src ? lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../pyproject.toml
      ../README.md
      ../src
    ];
  },
}:
let
  pyproject = builtins.fromTOML (builtins.readFile ../pyproject.toml);
in
python3Packages.buildPythonApplication {
  pname = "securellm";
  inherit (pyproject.project) version;
  pyproject = true;
  inherit src;

  build-system = with python3Packages; [
    setuptools
    wheel
  ];

  dependencies =
    with python3Packages;
    [
      starlette
      uvicorn
      aiohttp
      orjson
      cachetools
      pathspec
      pydantic
      pydantic-settings
      sqlalchemy
      alembic
      aiosqlite
      asyncpg
      redis
      prometheus-client
      typer
      rich
      platformdirs
      gguf
      nvidia-ml-py
      mcp
      tree-sitter
      # nixpkgs builds it with its grammars in the store, so it works offline
      tree-sitter-language-pack
      tiktoken
      tomlkit
      pyyaml
      watchfiles
      numpy
      jinja2
      python-multipart
    ]
    ++ uvicorn.optional-dependencies.standard
    ++ sqlalchemy.optional-dependencies.asyncio;

  # nixpkgs pins its own versions; the lower bounds of pyproject.toml are checked by the
  # import check below and by the flake's module check, not by pip's resolver.
  pythonRelaxDeps = true;

  # The MCP Nix tools run Nix inside bubblewrap ([mcp] nix_isolation = "bwrap"); a bwrap
  # already on the user's PATH comes first.
  makeWrapperArgs = [
    "--suffix"
    "PATH"
    ":"
    (lib.makeBinPath [ bubblewrap ])
  ];

  # The test suite needs servers (llama.cpp, Redis, PostgreSQL) that the build sandbox has not.
  doCheck = false;
  pythonImportsCheck = [
    "securellm"
    "securellm.cli.main"
  ];

  meta = {
    description = pyproject.project.description;
    license = lib.licenses.mit;
    mainProgram = "securellm";
    platforms = lib.platforms.linux;
  };
}
