# packages.docker: a layered OCI image of the gateway, the Nix twin of deploy/container/Containerfile.
# Load it with `docker load < result` (or `podman load`); run it with a read-only root:
#   docker run --read-only --tmpfs /tmp -p 127.0.0.1:8100:8100 \
#     -v securellm-state:/var/lib/securellm -v securellm-logs:/var/log/securellm securellm:latest
{
  dockerTools,
  runCommand,
  securellm,
}:
let
  uid = "10001";
  # /etc/passwd and /etc/group naming the non-root user.
  rootfs = runCommand "securellm-image-users" { } ''
    mkdir -p $out/etc
    echo 'securellm:x:${uid}:${uid}:securellm:/var/lib/securellm:/sbin/nologin' > $out/etc/passwd
    echo 'securellm:x:${uid}:' > $out/etc/group
  '';
in
dockerTools.buildLayeredImage {
  name = "securellm";
  tag = "latest";
  contents = [
    securellm
    rootfs
    dockerTools.caCertificates
  ];
  # The state and log mount points belong to the service user; /tmp is for a --tmpfs mount.
  fakeRootCommands = ''
    mkdir -p ./var/lib/securellm ./var/log/securellm ./tmp
    chown ${uid}:${uid} ./var/lib/securellm ./var/log/securellm
    chmod 1777 ./tmp
  '';
  config = {
    User = "${uid}:${uid}";
    Entrypoint = [ "${securellm}/bin/securellm" ];
    Cmd = [ "gateway" ];
    ExposedPorts."8100/tcp" = { };
    Volumes = {
      "/var/lib/securellm" = { };
      "/var/log/securellm" = { };
    };
    Env = [
      "STATE_DIRECTORY=/var/lib/securellm"
      "LOGS_DIRECTORY=/var/log/securellm"
      # Inside the container the gateway must listen on the container's interface; publish the
      # port on the host's loopback only (-p 127.0.0.1:8100:8100).
      "SECURELLM_GATEWAY__HOST=0.0.0.0"
      "HOME=/var/lib/securellm"
    ];
  };
}
