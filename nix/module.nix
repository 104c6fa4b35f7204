# NixOS module: services.securellm.{gateway,offload,mcp}.
#
# A thin wrapper (seed 000): the application comes from this repository's flake, the module
# renders its TOML, creates the runtime directories and runs each component as a hardened
# systemd service. Secrets (sops-nix paths) reach the services through LoadCredential=, so the
# secret files can stay root-only.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib)
    literalExpression
    mkEnableOption
    mkIf
    mkMerge
    mkOption
    optionalAttrs
    optionals
    types
    ;
  slib = import ./lib.nix;
  cfg = config.services.securellm;
  tomlFormat = pkgs.formats.toml { };
  exe = "${cfg.package}/bin/securellm";
  knowledgeDir = "/var/lib/mcp-knowledge";
  knowledgeDb = "${knowledgeDir}/knowledge.db";
  anyEnabled = cfg.gateway.enable || cfg.offload.enable || cfg.mcp.enable;
  localUrl = port: "http://127.0.0.1:${toString port}";

  commonOptions =
    {
      what,
      port,
      memoryMax,
    }:
    {
      enable = mkEnableOption "the securellm ${what}";
      host = mkOption {
        type = types.str;
        default = "127.0.0.1";
        description = "Address the ${what} listens on. Keep 127.0.0.1 unless a reverse proxy or another host needs it.";
      };
      port = mkOption {
        type = types.port;
        default = port;
        description = "TCP port of the ${what}.";
      };
      openFirewall = mkOption {
        type = types.bool;
        default = false;
        description = "Open the ${what}'s port in the firewall.";
      };
      settings = mkOption {
        type = tomlFormat.type;
        default = { };
        description = "Extra TOML settings of the ${what} (see ARCHITECTURE.md, \"Minimal configuration\"). Host and port come from the options above.";
      };
      memoryMax = mkOption {
        type = types.str;
        default = memoryMax;
        description = "systemd MemoryMax= of the ${what} unit.";
      };
      environmentFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "File of VAR=value lines read by systemd as root (for secrets named by *_env keys).";
      };
    };

  tomlFile = name: attrs: pkgs.writeText "securellm-${name}.toml" (slib.toTOML attrs);

  gatewayFile = tomlFile "gateway" (
    slib.gatewaySettings {
      inherit (cfg.gateway)
        host
        port
        settings
        masterKeyFile
        auditHmacKeyFile
        providerKeyFiles
        ;
    }
  );
  offloadFile = tomlFile "offload" (
    slib.offloadSettings {
      inherit (cfg.offload) host port settings gpuUnits;
      inherit (cfg) modelsRoot;
      systemctl = "${config.systemd.package}/bin/systemctl";
    }
  );
  mcpFile = tomlFile "mcp" (
    slib.mcpSettings {
      knowledgeDbPath = knowledgeDb;
      gatewayUrl = if cfg.gateway.enable then localUrl cfg.gateway.port else null;
      offloadUrl = if cfg.offload.enable then localUrl cfg.offload.port else null;
      # bubblewrap cannot run under the unit's RestrictNamespaces/PrivateUsers; the unit's own
      # sandbox and dedicated user stand in for it (settings.mcp.nix_isolation overrides).
      settings = slib.recursiveUpdate { mcp.nix_isolation = "off"; } cfg.mcp.settings;
    }
  );

  serviceBase =
    component: svc:
    {
      Type = "exec";
      Restart = "on-failure";
      RestartSec = "2s";
      TimeoutStopSec = "45s";
      LogsDirectory = "securellm/${component}";
      MemoryMax = svc.memoryMax;
    }
    // optionalAttrs (svc.environmentFile != null) { EnvironmentFile = svc.environmentFile; };

  auditDir = (cfg.gateway.settings.audit or { }).dir or null;

  firewallPorts = svc: optionals (svc.enable && svc.openFirewall) [ svc.port ];
in
{
  options.services.securellm = {
    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = literalExpression "pkgs.callPackage ./nix/package.nix { }";
      description = "The securellm package (the flake's nixosModules.default sets its own build).";
    };
    modelsRoot = mkOption {
      type = types.str;
      default = "/var/lib/ml-models";
      description = "Root of the model store (llamacpp/models, ollama/models, huggingface/hub, cache), created by systemd-tmpfiles.";
    };
    modelsGroup = mkOption {
      type = types.str;
      default = "ml-models";
      description = "Group that may read and add models under modelsRoot (add the llama.cpp and Ollama service users to it).";
    };
    sharedGroup = mkOption {
      type = types.str;
      default = "mcp-shared";
      description = "Group owning the MCP knowledge base, so several users' agents share one.";
    };

    gateway =
      commonOptions {
        what = "gateway";
        port = 8100;
        memoryMax = "2G";
      }
      // {
        masterKeyFile = mkOption {
          type = types.nullOr types.str;
          default = null;
          example = "/run/secrets/securellm/master-key";
          description = "File holding the admin (master) key, e.g. a sops-nix secret path. Read by systemd as root.";
        };
        auditHmacKeyFile = mkOption {
          type = types.nullOr types.str;
          default = null;
          description = "File holding the HMAC key of the audit trail.";
        };
        providerKeyFiles = mkOption {
          type = types.attrsOf types.str;
          default = { };
          example = literalExpression ''{ deepseek = config.sops.secrets."deepseek-api-key".path; }'';
          description = "API key file per provider name in settings.providers.";
        };
      };

    offload =
      commonOptions {
        what = "offload model manager";
        port = 9000;
        memoryMax = "8G";
      }
      // {
        gpuUnits = mkOption {
          type = types.listOf types.str;
          default = [ ];
          example = [
            "ollama.service"
            "llama-cpp.service"
          ];
          description = "Units that build mode stops and starts to free the GPU; a polkit rule lets the offload user manage exactly these.";
        };
      };

    mcp =
      commonOptions {
        what = "MCP server";
        port = 8300;
        memoryMax = "1G";
      }
      // {
        sharedUsers = mkOption {
          type = types.listOf types.str;
          default = [ ];
          description = "Users added to sharedGroup: their IDE agents (securellm mcp over stdio) share the knowledge base.";
        };
      };
  };

  config = mkMerge [
    (mkIf anyEnabled {
      users.groups.${cfg.modelsGroup} = { };
      systemd.tmpfiles.rules = slib.modelsTmpfiles { inherit (cfg) modelsRoot modelsGroup; };
      environment.systemPackages = [ cfg.package ];
      networking.firewall.allowedTCPPorts =
        firewallPorts cfg.gateway ++ firewallPorts cfg.offload ++ firewallPorts cfg.mcp;
    })

    (mkIf cfg.gateway.enable {
      environment.etc."securellm/gateway.toml".source = gatewayFile;
      systemd.services.securellm-gateway = {
        description = "securellm gateway (OpenAI/Anthropic-compatible LLM proxy)";
        wantedBy = [ "multi-user.target" ];
        wants = [ "network-online.target" ];
        after = [ "network-online.target" ];
        serviceConfig =
          slib.noDeviceHardening
          // serviceBase "gateway" cfg.gateway
          // {
            ExecStart = "${exe} gateway --config ${gatewayFile}";
            DynamicUser = true;
            StateDirectory = "securellm";
            UMask = "0077";
            # ProtectSystem=strict: an audit dir outside the logs directory must be named here.
            ReadWritePaths = optionals (auditDir != null) [ auditDir ];
            LoadCredential = slib.credentials (
              slib.gatewaySecrets { inherit (cfg.gateway) masterKeyFile auditHmacKeyFile providerKeyFiles; }
            );
          };
      };
    })

    (mkIf cfg.offload.enable {
      environment.etc."securellm/offload.toml".source = offloadFile;
      users.users.securellm-offload = {
        isSystemUser = true;
        group = "securellm-offload";
        extraGroups = [ cfg.modelsGroup ];
      };
      users.groups.securellm-offload = { };
      security.polkit.enable = mkIf (cfg.offload.gpuUnits != [ ]) true;
      security.polkit.extraConfig = mkIf (cfg.offload.gpuUnits != [ ]) (
        slib.polkitRule {
          user = "securellm-offload";
          units = cfg.offload.gpuUnits;
        }
      );
      systemd.services.securellm-offload = {
        description = "securellm offload (local model manager on a GPU host)";
        wantedBy = [ "multi-user.target" ];
        wants = [ "network-online.target" ];
        after = [ "network-online.target" ];
        # NVML comes from the driver in /run/opengl-driver/lib.
        environment.LD_LIBRARY_PATH = "/run/opengl-driver/lib";
        serviceConfig =
          slib.offloadHardening
          // serviceBase "offload" cfg.offload
          // {
            ExecStart = "${exe} offload --config ${offloadFile}";
            User = "securellm-offload";
            Group = "securellm-offload";
            SupplementaryGroups = [ cfg.modelsGroup ];
            StateDirectory = "ml-offload";
            UMask = "0027";
          };
      };
    })

    (mkIf cfg.mcp.enable {
      environment.etc."securellm/mcp.toml".source = mcpFile;
      environment.variables.KNOWLEDGE_DB_PATH = knowledgeDb;
      users.users.securellm-mcp = {
        isSystemUser = true;
        group = cfg.sharedGroup;
      };
      users.groups.${cfg.sharedGroup}.members = cfg.mcp.sharedUsers;
      systemd.tmpfiles.rules = slib.knowledgeTmpfiles {
        inherit knowledgeDir;
        mcpUser = "securellm-mcp";
        inherit (cfg) sharedGroup;
      };
      systemd.services.securellm-mcp = {
        description = "securellm MCP server (streamable HTTP, shared knowledge base)";
        wantedBy = [ "multi-user.target" ];
        after = [ "network.target" ];
        environment.KNOWLEDGE_DB_PATH = knowledgeDb;
        serviceConfig =
          slib.noDeviceHardening
          // serviceBase "mcp" cfg.mcp
          // {
            ExecStart = "${exe} mcp --config ${mcpFile} --http ${cfg.mcp.host}:${toString cfg.mcp.port}";
            User = "securellm-mcp";
            Group = cfg.sharedGroup;
            StateDirectory = "mcp-knowledge";
            StateDirectoryMode = "2770";
            UMask = "0007";
          };
      };
    })
  ];
}
