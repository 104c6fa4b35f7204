# The laptop: llama.cpp and Ollama share a small NVIDIA GPU; securellm's gateway fronts them,
# the desktop's offload server and two cloud providers; the MCP server keeps one knowledge
# base for every agent of the users in `sharedUsers`. Secrets come from sops-nix.
{ config, pkgs, ... }:
let
  secret = name: config.sops.secrets."securellm/${name}".path;
in
{
  sops.secrets = {
    "securellm/master-key" = { };
    "securellm/deepseek-api-key" = { };
    "securellm/anthropic-api-key" = { };
    "securellm/audit-hmac-key" = { };
  };

  services.llama-cpp = {
    enable = true;
    model = "/var/lib/ml-models/llamacpp/models/gemma-3-4b-it-Q4_K_M.gguf";
    host = "127.0.0.1";
    port = 8080;
    extraFlags = [
      "--n-gpu-layers"
      "99"
    ];
  };
  services.ollama = {
    enable = true;
    package = pkgs.ollama-cuda;
    host = "127.0.0.1";
    port = 11434;
  };

  services.securellm = {
    gateway = {
      enable = true;
      masterKeyFile = secret "master-key";
      auditHmacKeyFile = secret "audit-hmac-key";
      providerKeyFiles = {
        deepseek = secret "deepseek-api-key";
        anthropic = secret "anthropic-api-key";
      };
      settings = {
        audit.retention_days = 90;
        providers = [
          {
            name = "local";
            kind = "llamacpp";
            base_url = "http://127.0.0.1:8080/v1";
          }
          {
            name = "ollama";
            kind = "ollama";
            base_url = "http://127.0.0.1:11434";
          }
          {
            name = "laptop-gpu";
            kind = "offload";
            base_url = "http://127.0.0.1:9000/v1";
          }
          {
            name = "desktop";
            kind = "offload";
            base_url = "http://desktop.lan:9000/v1";
          }
          {
            name = "deepseek";
            kind = "deepseek";
          }
          {
            name = "anthropic";
            kind = "anthropic";
          }
        ];
        aliases = [
          {
            name = "fast";
            targets = [
              "deepseek/deepseek-chat"
              "local/gemma-3-4b-it"
            ];
            strategy = "fallback";
          }
        ];
      };
    };

    offload = {
      enable = true;
      # Build mode stops these to give the GPU back to `nixos-rebuild`; a polkit rule lets the
      # offload user manage exactly these two units.
      gpuUnits = [
        "llama-cpp.service"
        "ollama.service"
      ];
      settings.offload = {
        gpu = "nvml";
        ollama_url = "http://127.0.0.1:11434";
        llamacpp_command = [
          "${pkgs.llama-cpp}/bin/llama-server"
          "--model"
          "{model}"
          "--host"
          "127.0.0.1"
          "--port"
          "{port}"
          "--ctx-size"
          "{ctx}"
          "--n-gpu-layers"
          "{ngl}"
        ];
      };
    };

    mcp = {
      enable = true;
      sharedUsers = [ "you" ];
    };
  };

  # llama.cpp and Ollama read and add models under /var/lib/ml-models.
  systemd.services.llama-cpp.serviceConfig.SupplementaryGroups = [ "ml-models" ];
  systemd.services.ollama.serviceConfig.SupplementaryGroups = [ "ml-models" ];
}
