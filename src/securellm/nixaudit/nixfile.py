"""What the parser extracts from one Nix file: definitions, options, imports, comments."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_PRIORITY = 100
"""Priority of a plain definition; lower numbers win (mkForce is 50, mkDefault 1000)."""


@dataclass(frozen=True, slots=True)
class Assignment:
    """One definition of an option path, e.g. ``nix.settings.max-jobs = mkDefault 4``."""

    file: str
    path: tuple[str, ...]
    value: str
    kind: str  # bool, number, string, list, path, null, attrs, expr, inherit
    line: int
    priority: int = DEFAULT_PRIORITY
    conditional: bool = False
    condition: str = ""  # the mkIf conditions around it, joined with " && "

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True, slots=True)
class OptionDecl:
    """An option the module declares with mkOption, mkEnableOption or mkPackageOption."""

    path: tuple[str, ...]
    kind: str
    line: int
    type: str = ""
    default: str = ""
    description: str = ""

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True, slots=True)
class ImportRef:
    """A path literal in an ``imports`` or ``modules`` list."""

    target: str
    line: int
    context: str = ""  # the attribute it sits under, e.g. home-manager.users.me; "" at the top


@dataclass(frozen=True, slots=True)
class Literal:
    """A path or string literal, kept to find hard-coded locations."""

    text: str
    line: int
    is_path: bool
    in_docs: bool = False  # inside an option's example/description: text, not configuration


@dataclass(frozen=True, slots=True)
class Comment:
    text: str
    line: int


@dataclass(slots=True)
class NixFile:
    """The model of one parsed file. ``parse_error`` is set when the file is not valid Nix."""

    file: str
    line_count: int
    assignments: list[Assignment] = field(default_factory=list)
    options: list[OptionDecl] = field(default_factory=list)
    imports: list[ImportRef] = field(default_factory=list)
    literals: list[Literal] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    header: str = ""
    is_module: bool = False
    parse_error: tuple[int, str] | None = None

    @property
    def todos(self) -> list[Comment]:
        return [c for c in self.comments if _is_todo(c.text)]


_TODO_WORDS = ("TODO", "FIXME", "XXX", "HACK")
_SECRET_WORDS = ("password", "passwd", "secret", "token", "apikey", "api_key", "psk", "privatekey")
REDACTED = "<redacted>"


def shown_value(name: str, value: str) -> str:
    """``value`` for messages, unless ``name`` looks like it holds a credential."""
    last = name.rsplit(".", 1)[-1].lower().replace("-", "").replace("_", "")
    if last.endswith(("authentication", "auth", "enable")):
        return value  # switches such as PasswordAuthentication are not credentials
    return REDACTED if any(w.replace("_", "") in last for w in _SECRET_WORDS) else value


def _is_todo(text: str) -> bool:
    return any(word in text for word in _TODO_WORDS)
