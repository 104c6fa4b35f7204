# The desktop: the bigger GPU, serving as the laptop's offload host over the LAN.
{ pkgs, ... }:
{
  services.securellm.offload = {
    enable = true;
    # Listen on the LAN; the port is opened on the LAN interface only (not openFirewall).
    host = "0.0.0.0";
    memoryMax = "24G";
    settings.offload = {
      gpu = "nvml";
      max_loaded = 2;
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
  networking.firewall.interfaces."enp5s0".allowedTCPPorts = [ 9000 ];
}
