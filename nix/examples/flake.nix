# /etc/nixos/flake.nix of the seed's two machines: a laptop (llama.cpp and Ollama on a small
# GPU, gateway + MCP + local offload) and a desktop that serves as the offload host.
{
  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    # This repository: your fork, or `path:/home/you/dev/securellm` for a local checkout.
    securellm.url = "github:you/securellm";
    securellm.inputs.nixpkgs.follows = "nixpkgs";
    sops-nix.url = "github:Mic92/sops-nix";
    sops-nix.inputs.nixpkgs.follows = "nixpkgs";
  };

  outputs =
    {
      nixpkgs,
      securellm,
      sops-nix,
      ...
    }:
    let
      machine =
        name:
        nixpkgs.lib.nixosSystem {
          system = "x86_64-linux";
          modules = [
            ./${name}/hardware-configuration.nix
            sops-nix.nixosModules.sops
            securellm.nixosModules.default
            ./${name}.nix
          ];
        };
    in
    {
      nixosConfigurations.laptop = machine "laptop";
      nixosConfigurations.desktop = machine "desktop";
    };
}
