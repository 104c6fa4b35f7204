# Flake checks: the package builds, the module evaluates inside a real NixOS system, every
# TOML it renders passes `securellm config check`, every unit passes `systemd-analyze verify`,
# and a VM test starts the services and rates their hardening.
{
  pkgs,
  self,
  nixpkgs,
}:
let
  inherit (pkgs) lib;
  system = pkgs.stdenv.hostPlatform.system;
  securellm = self.packages.${system}.default;

  # Fake secrets for the evaluation check (the real ones come from sops-nix at run time).
  fakeSecrets = pkgs.runCommand "securellm-fake-secrets" { } ''
    mkdir -p $out
    for name in master-key deepseek-api-key audit-hmac-key; do
      echo "not-a-real-$name" > $out/$name
    done
  '';

  services = {
    gateway = {
      enable = true;
      masterKeyFile = "${fakeSecrets}/master-key";
      auditHmacKeyFile = "${fakeSecrets}/audit-hmac-key";
      providerKeyFiles.deepseek = "${fakeSecrets}/deepseek-api-key";
      settings.providers = [
        {
          name = "local";
          kind = "llamacpp";
        }
        {
          name = "deepseek";
          kind = "deepseek";
        }
      ];
    };
    offload = {
      enable = true;
      gpuUnits = [ "ollama.service" ];
    };
    mcp = {
      enable = true;
      sharedUsers = [ "alice" ];
    };
  };

  machine = nixpkgs.lib.nixosSystem {
    inherit system;
    modules = [
      self.nixosModules.default
      {
        boot.isContainer = true;
        system.stateVersion = "25.05";
        users.users.alice.isNormalUser = true;
        services.securellm = services;
      }
    ];
  };
  cfg = machine.config;
  names = [
    "gateway"
    "offload"
    "mcp"
  ];
  tomls = map (n: cfg.environment.etc."securellm/${n}.toml".source) names;
  units = map (n: cfg.systemd.units."securellm-${n}.service".unit) names;
in
{
  package = securellm;

  # The credentials directory does not exist in the sandbox: point the rendered paths at the
  # fake secrets, as systemd's LoadCredential= would at run time.
  module-config = pkgs.runCommand "securellm-module-config" { nativeBuildInputs = [ securellm ]; } ''
    export HOME=$TMPDIR
    for f in ${lib.concatStringsSep " " tomls}; do
      sed -e 's#/run/credentials/securellm-gateway.service/master_key#${fakeSecrets}/master-key#' \
          -e 's#/run/credentials/securellm-gateway.service/audit_hmac_key#${fakeSecrets}/audit-hmac-key#' \
          -e 's#/run/credentials/securellm-gateway.service/provider-deepseek#${fakeSecrets}/deepseek-api-key#' \
          "$f" > $TMPDIR/config.toml
      securellm config check $TMPDIR/config.toml
    done
    touch $out
  '';

  module-units = pkgs.runCommand "securellm-module-units" { nativeBuildInputs = [ pkgs.systemd ]; } ''
    # The sandbox has no system units: let verify find the upstream targets the units name.
    export SYSTEMD_UNIT_PATH=${pkgs.systemd}/example/systemd/system:
    for unit in ${lib.concatStringsSep " " units}; do
      systemd-analyze verify --man=no "$unit"/*.service
    done
    touch $out
  '';

  vm = pkgs.testers.runNixOSTest {
    name = "securellm";
    nodes.machine = {
      imports = [ self.nixosModules.default ];
      environment.systemPackages = [ pkgs.curl ];
      services.securellm = {
        gateway.enable = true;
        mcp.enable = true;
        offload = {
          enable = true;
          settings.offload.gpu = "simulated";
        };
      };
    };
    testScript = ''
      machine.wait_for_unit("securellm-gateway.service")
      machine.wait_for_unit("securellm-offload.service")
      machine.wait_for_unit("securellm-mcp.service")
      machine.wait_for_open_port(8100)
      machine.succeed("curl -sf http://127.0.0.1:8100/health")
      machine.succeed("test -d /var/lib/ml-models/llamacpp/models")
      machine.succeed("stat -c %G /var/lib/mcp-knowledge | grep -qx mcp-shared")
      for unit in ["securellm-gateway", "securellm-offload", "securellm-mcp"]:
          machine.succeed(f"systemd-analyze security --threshold=49 {unit}.service")
    '';
  };
}
