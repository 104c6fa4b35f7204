"""A flake's outputs and inputs: the hosts it builds and the revisions it pins.

Hosts are the attributes of ``nixosConfigurations``, ``darwinConfigurations`` and
``homeConfigurations`` (also under flake-parts' ``flake.``). A name interpolated from a
string the flake binds literally is resolved; any other interpolation stays a pattern.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from tree_sitter import Node, Parser

from securellm.nixaudit.parser import LANGUAGE, attr_names, text_of

KINDS = {
    "nixosConfigurations": "nixos",
    "darwinConfigurations": "darwin",
    "homeConfigurations": "home",
}
_SETS = {"attrset_expression", "rec_attrset_expression"}
_WRAPPERS = {"parenthesized_expression", "let_expression", "with_expression"}
_INTERPOLATION = re.compile(r"\$\{\s*([A-Za-z_][\w'-]*)\s*\}")
_MAX_NODES = 200_000


@dataclass(frozen=True, slots=True)
class FlakeHost:
    name: str
    kind: str  # nixos, darwin or home
    line: int
    modules: tuple[str, ...]  # path literals in the host's definition, as written
    pattern: bool = False  # the name could not be resolved to a literal


@dataclass(frozen=True, slots=True)
class FlakeInput:
    name: str
    source: str
    rev: str


def flake_hosts(source: bytes) -> list[FlakeHost]:
    """Every host the flake text ``source`` defines, in source order."""
    root = Parser(LANGUAGE).parse(source).root_node
    strings = _literal_strings(root)
    hosts: list[FlakeHost] = []
    for binding in _nodes(root, "binding"):
        path_node = binding.child_by_field_name("attrpath")
        value = binding.child_by_field_name("expression")
        if path_node is None or value is None:
            continue
        path = attr_names(path_node)
        for index, part in enumerate(path):
            if part in KINDS:
                kind = KINDS[part]
                if len(path) > index + 1:
                    hosts.append(_host(path[index + 1], kind, value, strings))
                else:
                    hosts.extend(_hosts_in(value, kind, strings))
                break
    return hosts


def _hosts_in(value: Node, kind: str, strings: dict[str, str]) -> list[FlakeHost]:
    value = _unwrap(value)
    if value.type in _SETS:
        found = []
        for binding in _child_bindings(value):
            path_node = binding.child_by_field_name("attrpath")
            expression = binding.child_by_field_name("expression")
            if path_node is not None and expression is not None:
                found.append(_host(attr_names(path_node)[0], kind, expression, strings))
        return found
    if value.type == "binary_expression":
        return [h for side in value.named_children for h in _hosts_in(side, kind, strings)]
    if value.type == "apply_expression":
        args = _call_args(value)
        sets = [n for n in args if _unwrap(n).type in _SETS]
        if sets:
            return [h for s in sets for h in _hosts_in(s, kind, strings)]
        names = [s for n in args for s in _list_strings(_unwrap(n))]
        if names:
            return [FlakeHost(n, kind, _line(value), ()) for n in names]
    return [FlakeHost("*", kind, _line(value), _paths(value), pattern=True)]


def _call_args(node: Node) -> list[Node]:
    """The arguments of a curried call ``f a b``: [a, b]."""
    args: list[Node] = []
    while node.type == "apply_expression":
        argument = node.child_by_field_name("argument")
        if argument is not None:
            args.append(argument)
        function = node.child_by_field_name("function")
        if function is None:
            break
        node = function
    return args[::-1]


def _host(raw: str, kind: str, value: Node, strings: dict[str, str]) -> FlakeHost:
    name, pattern = resolve_name(raw, strings)
    return FlakeHost(name, kind, _line(value), _paths(value), pattern)


def resolve_name(raw: str, strings: dict[str, str]) -> tuple[str, bool]:
    """``raw`` with ``${x}`` replaced where ``x`` is bound to a literal; (name, is pattern)."""
    name = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw
    resolved = _INTERPOLATION.sub(lambda m: strings.get(m.group(1), m.group(0)), name)
    return resolved, "${" in resolved


def _literal_strings(root: Node) -> dict[str, str]:
    """``x = "text";`` bindings of the file (let or attribute set) with a plain string."""
    found: dict[str, str] = {}
    for binding in _nodes(root, "binding"):
        path_node = binding.child_by_field_name("attrpath")
        value = binding.child_by_field_name("expression")
        if path_node is None or value is None or value.type != "string_expression":
            continue
        path = attr_names(path_node)
        parts = value.named_children
        if len(path) == 1 and all(p.type == "string_fragment" for p in parts):
            found.setdefault(path[0], "".join(text_of(p) for p in parts))
    return found


def _list_strings(node: Node) -> list[str]:
    if node.type != "list_expression":
        return []
    found = []
    for element in node.named_children:
        parts = element.named_children
        if element.type == "string_expression" and all(p.type == "string_fragment" for p in parts):
            found.append("".join(text_of(p) for p in parts))
    return found


def _paths(node: Node) -> tuple[str, ...]:
    found = []
    for path in _nodes(node, "path_expression"):
        if not any(c.type == "interpolation" for c in path.children):
            found.append(text_of(path))
    return tuple(found)


def _nodes(root: Node, node_type: str) -> list[Node]:
    found = []
    stack = [root]
    seen = 0
    while stack and seen < _MAX_NODES:
        node = stack.pop()
        seen += 1
        if node.type == node_type:
            found.append(node)
        stack.extend(reversed(node.named_children))
    return found


def _child_bindings(set_node: Node) -> list[Node]:
    return [
        b
        for child in set_node.named_children
        if child.type == "binding_set"
        for b in child.named_children
        if b.type == "binding"
    ]


def _unwrap(node: Node) -> Node:
    for _ in range(50):
        if node.type == "parenthesized_expression" and node.named_children:
            node = node.named_children[0]
        elif node.type in _WRAPPERS:
            body = node.child_by_field_name("body")
            if body is None:
                return node
            node = body
        else:
            return node
    return node


def _line(node: Node) -> int:
    return node.start_point[0] + 1


def locked_inputs(lock_file: Path) -> list[FlakeInput]:
    """The root's inputs with the revision ``flake.lock`` pins; [] without a readable lock."""
    try:
        data = json.loads(lock_file.read_text(encoding="utf-8"))
        nodes = data["nodes"]
        root_inputs = nodes[data.get("root", "root")].get("inputs", {})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []
    found = []
    for name, target in sorted(root_inputs.items()):
        node = nodes.get(target) if isinstance(target, str) else None
        if not isinstance(node, dict):
            found.append(FlakeInput(name, "follows " + "/".join(map(str, target)), ""))
            continue
        locked = node.get("locked", {})
        found.append(FlakeInput(name, _source(locked), str(locked.get("rev", ""))))
    return found


def _source(locked: dict[str, object]) -> str:
    kind = str(locked.get("type", ""))
    if kind in {"github", "gitlab", "sourcehut"}:
        return f"{kind}:{locked.get('owner', '')}/{locked.get('repo', '')}"
    return str(locked.get("url") or locked.get("path") or kind)
