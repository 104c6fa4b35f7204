# Evaluate nix/module.nix with the stub lib. The user configuration is either JSON
# (`--argstr userJson '{"services": {"securellm": ...}}'`) or the `services.securellm` part of
# an example machine (`--argstr example laptop`). Prints the resolved `config` of the module,
# the option defaults and the text of every file it renders under /etc.
{
  userJson ? "{}",
  example ? "",
}:
let
  stub = import ./stub.nix;
  module = import ../../../nix/module.nix;
  storePath = name: { outPath = "/nix/store/00000000000000000000000000000000-${name}"; };

  # What an example machine reads from its own config and pkgs.
  exampleArgs = {
    inherit (stub) lib;
    pkgs = stub.pkgs // {
      llama-cpp = storePath "llama-cpp";
      ollama-cuda = storePath "ollama-cuda";
    };
    config.sops.secrets = builtins.listToAttrs (
      map
        (name: {
          name = "securellm/${name}";
          value.path = "/run/secrets/securellm/${name}";
        })
        [
          "master-key"
          "deepseek-api-key"
          "anthropic-api-key"
          "audit-hmac-key"
        ]
    );
  };
  user =
    if example == "" then
      (builtins.fromJSON userJson).services.securellm or { }
    else
      (import ../../../nix/examples/${example}.nix exampleArgs).services.securellm;

  result = module {
    inherit (stub) lib pkgs;
    inherit config;
  };
  config = {
    systemd.package = storePath "systemd";
    services.securellm = stub.recursiveUpdate (stub.defaults result.options.services.securellm) checkedUser;
  };
  checkedUser = stub.checked "services.securellm" result.options.services.securellm user;
  resolved = stub.resolve result.config;
in
# Like the module system, refuse unknown options and ill-typed values even when unused.
builtins.deepSeq checkedUser {
  config = resolved;
  options = stub.defaults result.options.services.securellm;
  files = builtins.mapAttrs (_: entry: entry.source.text) (resolved.environment.etc or { });
}
