# A minimal stand-in for the parts of nixpkgs' `lib` and `pkgs` that nix/module.nix uses, so
# the module can be evaluated here without fetching nixpkgs. mkIf/mkMerge are kept as markers
# and resolved afterwards with the module system's merge rules for the option kinds the module
# sets (attribute sets merge recursively, lists concatenate, equal values agree).
let
  inherit (builtins)
    attrNames
    filter
    foldl'
    isAttrs
    isList
    listToAttrs
    map
    ;
  option = attrs: attrs // { _type = "option"; };
  type = name: { inherit name; };
  nothing = {
    _type = "nothing";
  };
  isLeaf = v: !(isAttrs v) || v ? outPath;

  merge =
    a: b:
    if a == nothing then
      b
    else if b == nothing then
      a
    else if isLeaf a || isLeaf b then
      (
        if isList a && isList b then
          a ++ b
        else if a == b then
          a
        else
          throw "conflicting definitions: ${builtins.toJSON a} and ${builtins.toJSON b}"
      )
    else
      a // listToAttrs (map (n: { name = n; value = if a ? ${n} then merge a.${n} b.${n} else b.${n}; }) (attrNames b));

  resolve =
    v:
    if isLeaf v then
      (if isList v then map resolve v else v)
    else if (v._type or null) == "if" then
      (if v.condition then resolve v.content else nothing)
    else if (v._type or null) == "merge" then
      foldl' merge nothing (map resolve v.contents)
    else
      let
        resolved = map (n: {
          name = n;
          value = resolve v.${n};
        }) (attrNames v);
      in
      listToAttrs (filter (e: e.value != nothing) resolved);

  defaults =
    opts:
    if (opts._type or null) == "option" then
      opts.default or (throw "option without default")
    else
      listToAttrs (map (n: {
        name = n;
        value = defaults opts.${n};
      }) (attrNames opts));

  # What the module system checks before merging: the option exists and the value fits its
  # type (for the types nix/module.nix uses).
  typeChecks = {
    str = builtins.isString;
    bool = builtins.isBool;
    port = v: builtins.isInt v && v >= 0 && v <= 65535;
    package = v: isAttrs v && v ? outPath || builtins.isString v;
    toml = isAttrs;
    "listOf str" = v: isList v && builtins.all builtins.isString v;
    "attrsOf str" = v: isAttrs v && builtins.all builtins.isString (builtins.attrValues v);
    "nullOr str" = v: v == null || builtins.isString v;
  };
  checked =
    path: opts: value:
    if (opts._type or null) == "option" then
      (
        if typeChecks.${opts.type.name} value then
          value
        else
          throw "The option value ${path} is not of type ${opts.type.name}."
      )
    else if !(isAttrs value) then
      throw "${path} must be an attribute set of options."
    else
      builtins.mapAttrs (
        n: v:
        if opts ? ${n} then checked "${path}.${n}" opts.${n} v else throw "The option ${path}.${n} does not exist."
      ) value;

  recursiveUpdate =
    left: right:
    left
    // listToAttrs (
      map (n: {
        name = n;
        value =
          if left ? ${n} && isAttrs left.${n} && !(isLeaf left.${n}) && isAttrs right.${n} then
            recursiveUpdate left.${n} right.${n}
          else
            right.${n};
      }) (attrNames right)
    );
in
{
  inherit defaults recursiveUpdate checked;
  # A module whose every mkIf is false defines nothing: an empty config.
  resolve = v: let resolved = resolve v; in if resolved == nothing then { } else resolved;
  lib = {
    mkOption = option;
    mkEnableOption = what: option {
      default = false;
      type = type "bool";
      description = "Whether to enable ${what}.";
    };
    mkIf = condition: content: {
      _type = "if";
      inherit condition content;
    };
    mkMerge = contents: {
      _type = "merge";
      inherit contents;
    };
    optionalAttrs = cond: attrs: if cond then attrs else { };
    optionals = cond: list: if cond then list else [ ];
    literalExpression = text: {
      _type = "literalExpression";
      inherit text;
    };
    types = {
      str = type "str";
      bool = type "bool";
      port = type "port";
      package = type "package";
      listOf = t: type "listOf ${t.name}";
      attrsOf = t: type "attrsOf ${t.name}";
      nullOr = t: type "nullOr ${t.name}";
    };
  };
  pkgs = {
    formats.toml = _: { type = type "toml"; };
    callPackage = _: _: { outPath = "/nix/store/00000000000000000000000000000000-securellm"; };
    writeText = name: text: {
      outPath = "/nix/store/00000000000000000000000000000000-${name}";
      inherit name text;
    };
  };
}
