"""The parser's model of a Nix file: paths, priorities, conditions, options, imports."""

from __future__ import annotations

from securellm.nixaudit.nixfile import Assignment
from securellm.nixaudit.parser import parse_source


def _defs(source: str) -> dict[str, Assignment]:
    return {a.dotted: a for a in parse_source(source, "m.nix").assignments}


def test_nested_sets_flatten_into_dotted_paths() -> None:
    defs = _defs("{ services.openssh = { enable = true; settings.X11Forwarding = false; }; }")
    assert set(defs) == {"services.openssh.enable", "services.openssh.settings.X11Forwarding"}


def test_values_keep_their_kind() -> None:
    defs = _defs('{ a = true; b = 3; c = "s"; d = [ 1 ]; e = ./x.nix; f = pkgs.hello; }')
    kinds = {name: d.kind for name, d in defs.items()}
    assert kinds == {
        "a": "bool",
        "b": "number",
        "c": "string",
        "d": "list",
        "e": "path",
        "f": "expr",
    }


def test_string_values_are_unquoted() -> None:
    assert _defs('{ x = "hourly"; }')["x"].value == "hourly"


def test_quoted_attribute_names_are_unquoted() -> None:
    assert "fileSystems./.fsType" in _defs('{ fileSystems."/".fsType = "ext4"; }')


def test_function_header_with_and_let_are_looked_through() -> None:
    source = "{ config, lib, ... }:\nlet cfg = 1; in\nwith lib;\n{ a.b = 1; }"
    assert list(_defs(source)) == ["a.b"]


def test_let_bindings_are_not_definitions() -> None:
    assert "cfg" not in _defs("let cfg = 1; in { a = cfg; }")


def test_mkdefault_sets_priority_1000() -> None:
    assert _defs("{ a = lib.mkDefault 1; }")["a"].priority == 1000


def test_mkforce_sets_priority_50() -> None:
    assert _defs("with lib; { a = mkForce 1; }")["a"].priority == 50


def test_mkoverride_sets_its_priority() -> None:
    assert _defs("{ a = lib.mkOverride 10 1; }")["a"].priority == 10


def test_plain_definition_has_priority_100() -> None:
    assert _defs("{ a = 1; }")["a"].priority == 100


def test_mkif_marks_definitions_conditional() -> None:
    defs = _defs("{ config = lib.mkIf cfg.enable { a = 1; }; b = 2; }")
    assert (defs["a"].conditional, defs["b"].conditional) == (True, False)


def test_mkmerge_walks_every_element() -> None:
    defs = _defs("{ config = lib.mkMerge [ { a = 1; } (lib.mkIf x { b = 2; }) ]; }")
    assert set(defs) == {"a", "b"}


def test_config_prefix_is_stripped() -> None:
    assert "nix.settings.cores" in _defs("{ options = { }; config.nix.settings.cores = 0; }")


def test_priority_wrapper_around_a_set_applies_to_its_leaves() -> None:
    assert (
        _defs("{ nix.settings = lib.mkForce { cores = 0; }; }")["nix.settings.cores"].priority == 50
    )


def test_inherit_defines_the_inherited_names() -> None:
    assert _defs("{ inherit (pkgs) hello; }")["hello"].kind == "inherit"


def test_definition_lines_are_one_based() -> None:
    assert _defs("{\n  a = 1;\n  b = 2;\n}")["b"].line == 3


def test_mkoption_declarations_are_collected() -> None:
    source = (
        "{ options.my.port = lib.mkOption { type = lib.types.int; default = 8080;"
        ' description = "Port"; }; }'
    )
    option = parse_source(source).options[0]
    assert (option.dotted, option.type, option.default, option.description) == (
        "my.port",
        "lib.types.int",
        "8080",
        "Port",
    )


def test_mkenableoption_declares_a_bool_option() -> None:
    option = parse_source('{ options.my.enable = lib.mkEnableOption "my thing"; }').options[0]
    assert (option.kind, option.type, option.description) == ("mkEnableOption", "bool", "my thing")


def test_option_declarations_are_not_definitions() -> None:
    assert parse_source('{ options.my.enable = lib.mkEnableOption "x"; }').assignments == []


def test_imports_collect_path_literals_with_lines() -> None:
    parsed = parse_source("{\n  imports = [\n    ./a.nix\n    ../b\n  ] ++ [ ./c.nix ];\n}")
    assert [(i.target, i.line) for i in parsed.imports] == [
        ("./a.nix", 3),
        ("../b", 4),
        ("./c.nix", 5),
    ]


def test_imports_are_not_definitions() -> None:
    assert parse_source("{ imports = [ ./a.nix ]; }").assignments == []


def test_flake_modules_lists_count_as_imports() -> None:
    parsed = parse_source("{ outputs = _: { x = f { modules = [ ./host.nix ]; }; }; }")
    assert [i.target for i in parsed.imports] == ["./host.nix"]


def test_interpolated_import_paths_are_skipped() -> None:
    assert parse_source("{ imports = [ ./${name}.nix ]; }").imports == []


def test_nixos_configurations_name_hosts() -> None:
    source = (
        "{ outputs = _: { nixosConfigurations.laptop = 1; nixosConfigurations = { desk = 2; }; }; }"
    )
    assert parse_source(source).hosts == ["laptop", "desk"]


def test_header_prefers_the_purpose_label() -> None:
    source = "####\n# Module: ClamAV\n# Purpose: antivirus daemon\n####\n{ }"
    assert parse_source(source).header == "antivirus daemon"


def test_header_falls_back_to_the_first_comment_line() -> None:
    assert parse_source("# SSH hardening\n{ }").header == "SSH hardening"


def test_late_comment_is_not_a_header() -> None:
    assert parse_source("{\n" + "\n" * 10 + "  # note\n}").header == ""


def test_todo_and_fixme_comments_are_listed() -> None:
    parsed = parse_source("{\n  # TODO: one\n  a = 1; # FIXME two\n  # plain\n}")
    assert [t.line for t in parsed.todos] == [2, 3]


def test_module_function_is_a_module() -> None:
    assert parse_source("{ config, lib, ... }: { }").is_module


def test_package_function_is_not_a_module() -> None:
    assert not parse_source("{ stdenv, fetchurl }: stdenv.mkDerivation { }").is_module


def test_flake_is_not_a_module() -> None:
    assert not parse_source('{ description = "x"; outputs = _: { }; }').is_module


def test_valid_file_has_no_parse_error() -> None:
    assert parse_source("{ a = 1; }").parse_error is None


def test_invalid_file_reports_the_error_line() -> None:
    parsed = parse_source("{\n  a = 1;\n  b = [ 1\n}\n")
    assert parsed.parse_error is not None
    assert parsed.parse_error[0] in {3, 4}


def test_trailing_comma_in_a_lambda_argument_set_is_valid() -> None:
    parsed = parse_source("{ lib, pkgs, }: { x = 1; }")
    assert parsed.parse_error is None
    assert [a.dotted for a in parsed.assignments] == ["x"]


def test_trailing_comma_after_an_ellipsis_is_valid() -> None:
    assert parse_source("{\n  config,\n  lib,\n  ...\n}:\n{ }\n").parse_error is None


def test_definitions_before_a_syntax_error_are_kept() -> None:
    assert "a" in {x.dotted for x in parse_source("{ a = 1; b = ; }").assignments}


def test_line_count_counts_the_last_line_without_newline() -> None:
    assert parse_source("{\n}").line_count == 2
