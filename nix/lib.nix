# Pure helpers of the securellm NixOS module.
#
# Written with builtins only (no nixpkgs), so the test suite can evaluate them with a bare
# `nix-instantiate --eval`: the TOML renderer, the per-service settings, the credentials list,
# the /var/lib/ml-models layout and the systemd hardening shared with deploy/systemd/*.service.
let
  inherit (builtins)
    all
    attrNames
    concatMap
    concatStringsSep
    filter
    hasAttr
    isAttrs
    isBool
    isFloat
    isInt
    isList
    isString
    listToAttrs
    map
    match
    toJSON
    typeOf
    ;

  # ---- TOML -------------------------------------------------------------------------------

  isTable = v: isAttrs v && !(v ? outPath);
  isTableList = v: isList v && v != [ ] && all isTable v;
  isPathLike = v: typeOf v == "path" || (isAttrs v && v ? outPath);

  # A TOML basic string. JSON's escaping is TOML's, except that TOML also forbids a raw DEL.
  del = builtins.fromJSON ''"\u007f"'';
  tomlString = s: builtins.replaceStrings [ del ] [ "\\u007F" ] (toJSON s);

  tomlKey = k: if match "[A-Za-z0-9_-]+" k != null then k else tomlString k;

  dropNulls =
    v:
    if isTable v then
      listToAttrs (
        map (n: {
          name = n;
          value = dropNulls v.${n};
        }) (filter (n: v.${n} != null) (attrNames v))
      )
    else if isList v then
      map dropNulls (filter (x: x != null) v)
    else
      v;

  # A value written on the right of `key = ...` (inline arrays and inline tables included).
  tomlValue =
    v:
    if isBool v then
      (if v then "true" else "false")
    else if isInt v || isFloat v then
      toJSON v
    else if isString v || isPathLike v then
      tomlString "${toString v}"
    else if isList v then
      "[" + concatStringsSep ", " (map tomlValue v) + "]"
    else if isAttrs v then
      "{ " + concatStringsSep ", " (map (n: "${tomlKey n} = ${tomlValue v.${n}}") (attrNames v)) + " }"
    else
      throw "securellm: a ${typeOf v} cannot be written as TOML";

  # The lines of one table: plain keys first, then sub-tables, then arrays of tables.
  tableLines =
    path: t:
    let
      names = attrNames t;
      plain = filter (n: !(isTable t.${n}) && !(isTableList t.${n})) names;
      tables = filter (n: isTable t.${n}) names;
      arrays = filter (n: isTableList t.${n}) names;
      dotted = n: concatStringsSep "." (map tomlKey (path ++ [ n ]));
      header = h: [
        ""
        h
      ];
    in
    map (n: "${tomlKey n} = ${tomlValue t.${n}}") plain
    ++ concatMap (n: header "[${dotted n}]" ++ tableLines (path ++ [ n ]) t.${n}) tables
    ++ concatMap (
      n: concatMap (e: header "[[${dotted n}]]" ++ tableLines (path ++ [ n ]) e) t.${n}
    ) arrays;

  dropLeadingBlank = lines: if lines != [ ] && builtins.head lines == "" then builtins.tail lines else lines;

  # Render an attribute set as a TOML document. `null` values are left out (TOML has no null).
  toTOML =
    attrs: concatStringsSep "\n" (dropLeadingBlank (tableLines [ ] (dropNulls attrs))) + "\n";

  # ---- settings ---------------------------------------------------------------------------

  recursiveUpdate =
    left: right:
    left
    // listToAttrs (
      map (n: {
        name = n;
        value =
          if hasAttr n left && isTable left.${n} && isTable right.${n} then
            recursiveUpdate left.${n} right.${n}
          else
            right.${n};
      }) (attrNames right)
    );

  credentialsDir = unit: "/run/credentials/${unit}.service";

  # systemd LoadCredential= entries ("id:source") for the secrets that are set.
  credentials =
    secrets: map (id: "${id}:${toString secrets.${id}}") (filter (id: secrets.${id} != null) (attrNames secrets));

  gatewaySecrets =
    {
      masterKeyFile ? null,
      auditHmacKeyFile ? null,
      providerKeyFiles ? { },
    }:
    {
      master_key = masterKeyFile;
      audit_hmac_key = auditHmacKeyFile;
    }
    // listToAttrs (
      map (name: {
        name = "provider-${name}";
        value = providerKeyFiles.${name};
      }) (attrNames providerKeyFiles)
    );

  # The gateway's TOML as an attribute set: user settings, secrets pointed at the unit's
  # credentials directory, and host/port from the module options (they also open the firewall).
  gatewaySettings =
    {
      host,
      port,
      settings ? { },
      masterKeyFile ? null,
      auditHmacKeyFile ? null,
      providerKeyFiles ? { },
    }:
    let
      cred = credentialsDir "securellm-gateway";
      providers = settings.providers or [ ];
      names = map (p: p.name) providers;
      unknown = filter (n: !(builtins.elem n names)) (attrNames providerKeyFiles);
      withKey =
        p: if hasAttr p.name providerKeyFiles then p // { api_key_file = "${cred}/provider-${p.name}"; } else p;
      secretKeys =
        (if masterKeyFile == null then { } else { gateway.master_key_file = "${cred}/master_key"; })
        // (if auditHmacKeyFile == null then { } else { audit.hmac_key_file = "${cred}/audit_hmac_key"; });
      merged = recursiveUpdate (recursiveUpdate secretKeys settings) { gateway = { inherit host port; }; };
    in
    if unknown != [ ] then
      throw "securellm: providerKeyFiles names no provider in settings.providers: ${concatStringsSep ", " unknown}"
    else
      merged // (if providers == [ ] then { } else { providers = map withKey providers; });

  offloadSettings =
    {
      host,
      port,
      modelsRoot,
      gpuUnits ? [ ],
      systemctl ? null,
      settings ? { },
    }:
    let
      layout = {
        offload = {
          model_dirs = [ "${modelsRoot}/llamacpp/models" ];
          ollama_dir = "${modelsRoot}/ollama/models";
          huggingface_dir = "${modelsRoot}/huggingface/hub";
          inherit systemctl;
        };
      };
    in
    recursiveUpdate (recursiveUpdate layout settings) {
      # The polkit rule allows exactly these units, so the option is the only source.
      offload = {
        inherit host port;
        gpu_units = gpuUnits;
      };
    };

  mcpSettings =
    {
      knowledgeDbPath,
      gatewayUrl ? null,
      offloadUrl ? null,
      settings ? { },
    }:
    recursiveUpdate {
      mcp = {
        gateway_url = gatewayUrl;
        offload_url = offloadUrl;
      };
    } (recursiveUpdate settings { mcp.knowledge_db_path = knowledgeDbPath; });

  # ---- directories ------------------------------------------------------------------------

  # The model storage layout of seed 000, created by systemd-tmpfiles.
  modelsLayout = root: [
    root
    "${root}/llamacpp"
    "${root}/llamacpp/models"
    "${root}/ollama"
    "${root}/ollama/models"
    "${root}/huggingface"
    "${root}/huggingface/hub"
    "${root}/cache"
  ];

  # systemd-tmpfiles rules: the models tree (group-writable, setgid) for the model servers.
  modelsTmpfiles =
    { modelsRoot, modelsGroup }: map (dir: "d ${dir} 2775 root ${modelsGroup} - -") (modelsLayout modelsRoot);

  # The shared knowledge base: the MCP service user and every member of the shared group.
  knowledgeTmpfiles =
    {
      knowledgeDir,
      mcpUser,
      sharedGroup,
    }:
    [ "d ${knowledgeDir} 2770 ${mcpUser} ${sharedGroup} - -" ];

  # polkit rule letting the offload user stop/start/restart the GPU units in build mode, and
  # nothing else: no sudo and no capability in the offload unit.
  polkitRule =
    { user, units }:
    concatStringsSep "\n" [
      "// securellm offload build mode: ${user} may stop, start and restart these units only."
      "polkit.addRule(function (action, subject) {"
      "  var units = ${toJSON units};"
      "  var verbs = [\"start\", \"stop\", \"restart\"];"
      "  if (action.id === \"org.freedesktop.systemd1.manage-units\" &&"
      "      subject.user === ${toJSON user} &&"
      "      units.indexOf(action.lookup(\"unit\")) >= 0 &&"
      "      verbs.indexOf(action.lookup(\"verb\")) >= 0) {"
      "    return polkit.Result.YES;"
      "  }"
      "  return polkit.Result.NOT_HANDLED;"
      "});"
      ""
    ];

  # ---- systemd hardening (the same settings as deploy/systemd/*.service) ------------------

  commonHardening = {
    NoNewPrivileges = true;
    ProtectSystem = "strict";
    ProtectHome = true;
    PrivateTmp = true;
    PrivateMounts = true;
    ProtectKernelTunables = true;
    ProtectKernelModules = true;
    ProtectKernelLogs = true;
    ProtectControlGroups = true;
    ProtectClock = true;
    ProtectHostname = true;
    ProtectProc = "invisible";
    RestrictAddressFamilies = [
      "AF_UNIX"
      "AF_INET"
      "AF_INET6"
    ];
    RestrictNamespaces = true;
    RestrictRealtime = true;
    RestrictSUIDSGID = true;
    LockPersonality = true;
    RemoveIPC = true;
    SystemCallArchitectures = "native";
    SystemCallFilter = [
      "@system-service"
      "~@privileged @resources"
    ];
    SystemCallErrorNumber = "EPERM";
    CapabilityBoundingSet = "";
    AmbientCapabilities = "";
    DevicePolicy = "closed";
  };

  # Gateway and MCP: no devices at all, no W+X memory, only their own processes in /proc.
  noDeviceHardening = commonHardening // {
    PrivateDevices = true;
    PrivateUsers = true;
    MemoryDenyWriteExecute = true;
    ProcSubset = "pid";
  };

  # Offload: the NVIDIA device nodes and nothing more. /proc/driver/nvidia stays visible for
  # NVML, and W+X memory stays allowed for the CUDA JIT of the llama-server children.
  offloadHardening = commonHardening // {
    # model servers run in offload's cgroup and end with it (stop, restart, crash)
    KillMode = "control-group";
    PrivateDevices = false;
    DeviceAllow = [
      "char-nvidia-frontend rw"
      "char-nvidia-uvm rw"
      "char-nvidia-caps r"
    ];
  };
in
{
  inherit
    toTOML
    recursiveUpdate
    credentialsDir
    credentials
    gatewaySecrets
    gatewaySettings
    offloadSettings
    mcpSettings
    modelsLayout
    modelsTmpfiles
    knowledgeTmpfiles
    polkitRule
    commonHardening
    noDeviceHardening
    offloadHardening
    ;
}
