"""Nix source to a :class:`NixFile`, with tree-sitter and the Nix grammar.

The walker follows the shapes NixOS modules are written in: nested attribute sets,
``with``, ``let``, ``mkIf``/``mkMerge``, priority wrappers (``mkDefault``, ``mkForce``,
``mkOverride N``) with or without a ``lib.`` prefix, the ``options``/``config`` split and
option declarations. It never raises: a file that does not parse gets ``parse_error`` set
and keeps whatever the error-tolerant tree still shows.
"""

from __future__ import annotations

import re

from tree_sitter import Node, Parser, Query, QueryCursor
from tree_sitter_language_pack import get_language

from securellm.nixaudit.nixfile import (
    DEFAULT_PRIORITY,
    Assignment,
    Comment,
    ImportRef,
    Literal,
    NixFile,
    OptionDecl,
)

LANGUAGE = get_language("nix")

_QUERY = Query(
    LANGUAGE,
    """
    (comment) @comment
    (path_expression) @path
    (string_expression) @string
    (indented_string_expression) @string
    (binding attrpath: (attrpath (identifier) @last .) expression: (_) @imports
      (#any-of? @last "imports" "modules"))
    (binding attrpath: (attrpath . (identifier) @first) (#eq? @first "nixosConfigurations")) @hosts
    """,
)

_PRIORITY_FUNCS = {
    "mkDefault": 1000,
    "mkForce": 50,
    "mkOptionDefault": 1500,
    "mkVMOverride": 10,
    "mkImageMediaOverride": 60,
}
_PASS_THROUGH = {"mkBefore": 1, "mkAfter": 1, "mkOrder": 2}
_OPTION_FUNCS = {"mkOption", "mkEnableOption", "mkPackageOption"}
_IMPORT_CONTAINERS = {
    "list_expression",
    "binary_expression",
    "parenthesized_expression",
}
_IMPORT_CALL_ARGS = {"list_expression", "apply_expression"}
"""Inside ``lib.flatten [ ... ]`` or ``lib.optionals c [ ... ]`` only list arguments are
imports; a bare path argument (``mapModules ./modules f``) names a directory to scan."""
_SET_TYPES = {"attrset_expression", "rec_attrset_expression"}
_MAX_DEPTH = 120
_MAX_VALUE = 200
_LEAF_KINDS = {
    "integer_expression": "number",
    "float_expression": "number",
    "string_expression": "string",
    "indented_string_expression": "string",
    "list_expression": "list",
    "path_expression": "path",
    "hpath_expression": "path",
    "spath_expression": "path",
    "attrset_expression": "attrs",
    "rec_attrset_expression": "attrs",
}
_WORD_KINDS = {"true": "bool", "false": "bool", "null": "null"}


def parse_source(source: str | bytes, file: str = "<memory>") -> NixFile:
    """Parse ``source`` (the text of ``file``) into a :class:`NixFile`."""
    data = source if isinstance(source, bytes) else source.encode("utf-8", "replace")
    tree = Parser(LANGUAGE).parse(data)
    root = tree.root_node
    result = NixFile(file=file, line_count=_count_lines(data))
    if root.has_error:
        result.parse_error = _first_error(root)
    _collect_captures(root, result)
    body = _top_expression(root)
    if body is None and result.parse_error is None:
        result.parse_error = (1, "no Nix expression in the file (empty or only comments)")
    if body is not None:
        result.is_module = _looks_like_module(body)
        _Walker(result).value(_strip_function(body), (), DEFAULT_PRIORITY, False, 0)
    return result


def text_of(node: Node) -> str:
    raw = node.text or b""
    return raw.decode("utf-8", "replace")


def _count_lines(data: bytes) -> int:
    if not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def _line(node: Node) -> int:
    return node.start_point[0] + 1


def _first_error(root: Node) -> tuple[int, str]:
    """Line and message of the innermost ERROR or MISSING node, in document order."""
    node = _innermost_error(root)
    if node is None:
        return _line(root), "syntax error"
    where = f"{_line(node)}:{node.start_point[1] + 1}"
    if node.is_missing:
        return _line(node), f"syntax error at {where}: missing {node.type!r}"
    # No source text in the message: a broken line may hold a secret.
    return _line(
        node
    ), f"syntax error at {where} (to {node.end_point[0] + 1}:{node.end_point[1] + 1})"


def _innermost_error(root: Node) -> Node | None:
    found: Node | None = None
    node = root
    while True:
        child = next((c for c in node.children if c.has_error or c.is_missing), None)
        if node.is_error or node.is_missing:
            found = node
        if child is None:
            return found
        node = child


def _collect_captures(root: Node, out: NixFile) -> None:
    captures = QueryCursor(_QUERY).captures(root)
    for node in captures.get("comment", []):
        out.comments.append(Comment(text_of(node), _line(node)))
    for node in captures.get("path", []):
        out.literals.append(Literal(text_of(node), _line(node), True, _in_docs(node)))
    for node in captures.get("string", []):
        out.literals.append(Literal(text_of(node), _line(node), False, _in_docs(node)))
    for node in captures.get("imports", []):
        context = _import_context(node)
        out.imports.extend(ImportRef(r.target, r.line, context) for r in _import_paths(node))
    for node in captures.get("hosts", []):
        out.hosts.extend(_host_names(node))
    out.comments.sort(key=lambda c: c.line)
    out.header = _header(out.comments)


_DOC_ATTRS = {"example", "description", "defaultText", "longDescription"}
_DOC_CALLS = ("literalExpression", "literalExample", "literalMD", "mdDoc")


def _in_docs(node: Node) -> bool:
    """True for a literal that documents an option (``example = ...``, ``literalExpression``):
    text shown to readers of the manual, never evaluated as configuration."""
    current = node.parent
    while current is not None:
        if current.type == "binding":
            path = current.child_by_field_name("attrpath")
            last = path.children[-1] if path is not None and path.children else None
            if last is not None and text_of(last) in _DOC_ATTRS:
                return True
        elif current.type == "apply_expression":
            function = current.child_by_field_name("function")
            if function is not None and text_of(function).endswith(_DOC_CALLS):
                return True
        current = current.parent
    return False


def _import_context(expression: Node) -> str:
    """``a.b`` for ``a.b.imports = [...]`` or ``a = { b.imports = [...]; }``; "" at the top.

    Imports under an attribute (``home-manager.users.me.imports``) belong to another
    evaluation than the module's own.
    """
    names: list[str] = []
    node = expression.parent
    own = True
    while node is not None:
        if node.type == "binding":
            path = node.child_by_field_name("attrpath")
            parts = list(attr_names(path)) if path is not None else []
            names[:0] = parts[:-1] if own else parts
            own = False
        node = node.parent
    return ".".join(names)


def _import_paths(node: Node) -> list[ImportRef]:
    found: list[ImportRef] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == "path_expression":
            if not any(c.type == "interpolation" for c in current.children):
                found.append(ImportRef(text_of(current), _line(current)))
        elif current.type in _IMPORT_CONTAINERS:
            stack.extend(reversed(current.named_children))
        elif current.type == "apply_expression":
            stack.extend(c for c in reversed(current.named_children) if c.type in _IMPORT_CALL_ARGS)
    return found


def _host_names(binding: Node) -> list[str]:
    path = binding.child_by_field_name("attrpath")
    value = binding.child_by_field_name("expression")
    parts = attr_names(path) if path is not None else ()
    if len(parts) >= 2:
        return [parts[1]]
    if value is not None and value.type in _SET_TYPES:
        return [p[0] for p in (_binding_path(b) for b in _bindings_of(value)) if p]
    return []


def attr_names(attrpath: Node) -> tuple[str, ...]:
    """The names of an attribute path; interpolated parts keep their ``${...}`` text."""
    names: list[str] = []
    for child in attrpath.named_children:
        if child.type == "string_expression":
            names.append(_string_value(child))
        else:
            names.append(text_of(child))
    return tuple(names)


def _string_value(node: Node) -> str:
    parts = node.named_children
    if all(p.type == "string_fragment" for p in parts):
        return "".join(text_of(p) for p in parts)
    return text_of(node)


def _binding_path(binding: Node) -> tuple[str, ...]:
    path = binding.child_by_field_name("attrpath")
    return attr_names(path) if path is not None else ()


def _bindings_of(set_node: Node) -> list[Node]:
    nodes: list[Node] = []
    for child in set_node.named_children:
        if child.type == "binding_set":
            nodes.extend(child.named_children)
    return nodes


_DECORATION = re.compile(r"^[\s#*/=\-_~+|]+|[\s#*/=\-_~+|]+$")
_LABELLED = re.compile(r"^(purpose|description|module)\s*:\s*(.+)$", re.IGNORECASE)


def _header(comments: list[Comment]) -> str:
    """The purpose of a file: its first comment block if it opens the file."""
    if not comments or comments[0].line > 8:
        return ""
    block = [comments[0]]
    for comment in comments[1:]:
        if comment.line > block[-1].line + block[-1].text.count("\n") + 1:
            break
        block.append(comment)
    lines = [_DECORATION.sub("", raw) for c in block for raw in c.text.splitlines()]
    lines = [ln for ln in lines if ln]
    labelled = {m.group(1).lower(): m.group(2) for ln in lines if (m := _LABELLED.match(ln))}
    for key in ("purpose", "description", "module"):
        if key in labelled:
            return labelled[key].strip()
    return lines[0] if lines else ""


def _top_expression(root: Node) -> Node | None:
    for child in root.named_children:
        if child.type not in {"comment", "ERROR"}:
            return child
    return None


def _strip_function(node: Node) -> Node:
    while node.type == "function_expression":
        body = node.child_by_field_name("body")
        if body is None:
            return node
        node = body
    return node


def _unwrap(node: Node) -> Node:
    for _ in range(_MAX_DEPTH):
        if node.type in {"let_expression", "with_expression"}:
            body = node.child_by_field_name("body")
            if body is None:
                return node
            node = body
        elif node.type == "parenthesized_expression" and node.named_children:
            node = node.named_children[0]
        else:
            return node
    return node


def _looks_like_module(top: Node) -> bool:
    if top.type == "function_expression":
        formals = top.child_by_field_name("formals")
        if formals is None or not any(c.type == "ellipses" for c in formals.children):
            return False
    body = _unwrap(_strip_function(top))
    if body.type in _SET_TYPES:
        return top.type == "function_expression" or not _is_flake(body)
    return top.type == "function_expression" and _call_name(body)[0] in {"mkIf", "mkMerge"}


def _is_flake(set_node: Node) -> bool:
    keys = {p[0] for p in (_binding_path(b) for b in _bindings_of(set_node)) if p}
    return bool(keys & {"outputs", "inputs"})


def _call_name(node: Node) -> tuple[str, list[Node]]:
    """For ``f a b`` the name of ``f`` (last attribute of ``lib.f``) and ``[a, b]``."""
    args: list[Node] = []
    while node.type == "apply_expression":
        argument = node.child_by_field_name("argument")
        function = node.child_by_field_name("function")
        if argument is None or function is None:
            return "", []
        args.append(argument)
        node = function
    args.reverse()
    if node.type == "variable_expression":
        return text_of(node), args
    if node.type == "select_expression":
        path = node.child_by_field_name("attrpath")
        if path is not None and path.named_children:
            return text_of(path.named_children[-1]), args
    return "", args


def _leaf(node: Node) -> tuple[str, str]:
    text = " ".join(text_of(node).split())[:_MAX_VALUE]
    if node.type == "variable_expression" and text in _WORD_KINDS:
        return text, _WORD_KINDS[text]
    kind = _LEAF_KINDS.get(node.type, "expr")
    if node.type == "string_expression":
        text = _string_value(node)[:_MAX_VALUE]
    return text, kind


class _Walker:
    """Turns the module's attribute structure into assignments and option declarations."""

    def __init__(self, out: NixFile) -> None:
        self.out = out
        self.conditions: list[str] = []

    def value(self, node: Node, prefix: tuple[str, ...], prio: int, cond: bool, depth: int) -> None:
        node = _unwrap(node)
        if depth > _MAX_DEPTH:
            return
        if node.type in _SET_TYPES and _bindings_of(node):
            self.bindings(node, prefix, prio, cond, depth + 1)
        elif node.type == "apply_expression":
            self.call(node, prefix, prio, cond, depth + 1)
        else:
            self.record(node, prefix, prio, cond)

    def bindings(
        self, node: Node, prefix: tuple[str, ...], prio: int, cond: bool, depth: int
    ) -> None:
        for binding in _bindings_of(node):
            if binding.type == "binding":
                path = _binding_path(binding)
                value = binding.child_by_field_name("expression")
                if path and value is not None and path[-1] != "imports":
                    self.value(value, prefix + path, prio, cond, depth)
            elif binding.type in {"inherit", "inherit_from"}:
                self.inherited(binding, prefix, prio, cond)

    def inherited(self, node: Node, prefix: tuple[str, ...], prio: int, cond: bool) -> None:
        for attrs in node.named_children:
            if attrs.type == "inherited_attrs":
                for name in attrs.named_children:
                    self.add(
                        (*prefix, text_of(name)), "inherit", "inherit", _line(name), prio, cond
                    )

    def call(self, node: Node, prefix: tuple[str, ...], prio: int, cond: bool, depth: int) -> None:
        name, args = _call_name(node)
        if name == "mkIf" and len(args) == 2:
            self.conditions.append(" ".join(text_of(args[0]).split()))
            self.value(args[1], prefix, prio, True, depth)
            self.conditions.pop()
        elif name == "mkMerge" and len(args) == 1 and _unwrap(args[0]).type == "list_expression":
            for element in _unwrap(args[0]).named_children:
                self.value(element, prefix, prio, cond, depth)
        elif name in _PRIORITY_FUNCS and len(args) == 1:
            self.value(args[0], prefix, _PRIORITY_FUNCS[name], cond, depth)
        elif name == "mkOverride" and len(args) == 2 and args[0].type == "integer_expression":
            self.value(args[1], prefix, int(text_of(args[0])), cond, depth)
        elif name in _PASS_THROUGH and len(args) == _PASS_THROUGH[name]:
            self.value(args[-1], prefix, prio, cond, depth)
        elif name in _OPTION_FUNCS:
            self.option(name, args, prefix, _line(node))
        else:
            self.record(node, prefix, prio, cond)

    def option(self, name: str, args: list[Node], prefix: tuple[str, ...], line: int) -> None:
        path = prefix[1:] if prefix[:1] == ("options",) else prefix
        if not path:
            return
        fields = {"type": "", "default": "", "description": ""}
        if name == "mkEnableOption" and args:
            fields = {"type": "bool", "default": "false", "description": _leaf(args[0])[0]}
        elif name == "mkPackageOption" and len(args) >= 2:
            fields = {"type": "package", "default": _leaf(args[1])[0], "description": ""}
        elif name == "mkOption" and args and _unwrap(args[0]).type in _SET_TYPES:
            for binding in _bindings_of(_unwrap(args[0])):
                key = _binding_path(binding)
                value = binding.child_by_field_name("expression")
                if len(key) == 1 and key[0] in fields and value is not None:
                    fields[key[0]] = _leaf(value)[0]
        self.out.options.append(OptionDecl(path, name, line, **fields))

    def record(self, node: Node, prefix: tuple[str, ...], prio: int, cond: bool) -> None:
        text, kind = _leaf(node)
        self.add(prefix, text, kind, _line(node), prio, cond)

    def add(
        self, path: tuple[str, ...], text: str, kind: str, line: int, prio: int, cond: bool
    ) -> None:
        if path[:1] == ("options",):
            return
        if path[:1] == ("config",):
            path = path[1:]
        if path:
            condition = " && ".join(self.conditions)
            self.out.assignments.append(
                Assignment(self.out.file, path, text, kind, line, prio, cond, condition)
            )
