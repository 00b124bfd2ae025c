"""YAML text → a small positioned node tree (`YMap`, `YSeq`, `YScalar`).

PyYAML's composer keeps a mark on every node; this module turns its node
graph into plain, acyclic nodes that carry `Span`s, resolving what the raw
graph leaves open: aliases are expanded (recursive ones and ones that blow up
are refused), `<<` merge keys are applied, duplicate and non-scalar keys are
reported, and scalars get their Python value. Every problem becomes a
diagnostic; nothing here raises on bad input.

Codes reported here (documented with the others in `yaml_front`):
E0110 YAML syntax error, E0111 duplicate or non-scalar key,
E0113 nesting too deep, recursive alias or alias expansion too large,
E0117 a tag other than `!raw` (on a string) and the standard ones.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import yaml
from yaml.constructor import SafeConstructor

from chatflow.deep import MAX_NESTING
from chatflow.diagnostics import Diagnostic, Span, error

MAX_DEPTH = 2 * MAX_NESTING + 16
"""Deepest nesting accepted: room for the twin of any `.flow` source (a group
is two YAML levels, a list or map value one, and `.flow` nests them up to
MAX_NESTING deep); the compiler runs with room for it (`chatflow.deep`)."""

MAX_NODES = 100_000
"""Node budget after alias expansion ("billion laughs" protection)."""

ScalarValue: TypeAlias = str | int | float | bool | None

_TAG = "tag:yaml.org,2002:"
_MERGE_TAG = _TAG + "merge"
RAW_TAG = "!raw"
"""The one local tag ChatFlow knows: a string with no interpolation and no
escapes, in a template, value or expression field."""


@dataclass(slots=True)
class YScalar:
    """A scalar. `value` is the resolved Python value (timestamps and unknown
    tags stay strings); `text` is the scalar's string content as PyYAML read
    it (quotes removed, escapes decoded); `origin` is the span of that content
    in the file (after an opening quote; the first content line of a block
    scalar), the base for spans of expressions parsed from it."""

    value: ScalarValue
    text: str
    span: Span
    origin: Span
    quoted: bool
    segments: tuple[tuple[int, int], ...] = ()
    """For a scalar written over several lines: (index in `text`, file
    offset) where each line's content starts, as far as they could be
    matched (escapes and folded blank lines end the matching)."""
    raw: bool = False
    """Tagged `!raw`: a string taken exactly as written (`RAW_TAG`) where a
    string is read; `value` is what the scalar means untagged, for the
    schema and for fields where the tag does not apply (reported, E0117)."""

    def file_offset(self, k: int) -> int:
        """The file offset of `text[k]`."""
        if len(self.segments) < 2:
            return self.origin.start + k
        i = bisect.bisect_right([text_index for text_index, _ in self.segments], k) - 1
        text_index, file_index = self.segments[max(i, 0)]
        return file_index + (k - text_index)


@dataclass(slots=True)
class YEntry:
    key: YScalar
    value: YNode


@dataclass(slots=True)
class YMap:
    entries: list[YEntry]
    span: Span
    _index: dict[str, YEntry] = field(default_factory=dict, repr=False)

    def get(self, key: str) -> YNode | None:
        entry = self._index.get(key)
        return entry.value if entry is not None else None

    def entry(self, key: str) -> YEntry | None:
        return self._index.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self._index

    def keys(self) -> list[str]:
        return [e.key.text for e in self.entries]


@dataclass(slots=True)
class YSeq:
    items: list[YNode]
    span: Span


YNode: TypeAlias = YMap | YSeq | YScalar
Plain: TypeAlias = "dict[str, Plain] | list[Plain] | ScalarValue"


class LineIndex:
    """Character offset → (line, column), both 1-based, for one text."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self._starts = [0]
        self._starts.extend(i + 1 for i, ch in enumerate(text) if ch == "\n")

    def position(self, index: int) -> tuple[int, int]:
        index = max(0, min(index, len(self.text)))
        line = bisect.bisect_right(self._starts, index) - 1
        return line + 1, index - self._starts[line] + 1

    def span(self, start: int, end: int) -> Span:
        end = max(start, end)
        line, column = self.position(start)
        end_line, end_column = self.position(end)
        return Span(self.path, line, column, end_line, end_column, start, end)

    def trimmed_span(self, start: int, end: int) -> Span:
        """The span with trailing whitespace (block scalars' newlines) cut."""
        while end > start and self.text[end - 1] in " \t\r\n":
            end -= 1
        return self.span(start, end)

    def whole(self) -> Span:
        return self.span(0, len(self.text))


@dataclass
class LoadResult:
    root: YNode | None
    diagnostics: list[Diagnostic]
    raw: list[YScalar] = field(default_factory=list)  # every scalar tagged `!raw`


def load_nodes(text: str, path: str) -> LoadResult:
    """Compose `text` and convert it; `root` is None when nothing usable was
    read (syntax error, empty document)."""
    lines = LineIndex(path, text)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        return LoadResult(None, [_syntax_error(exc, lines)])
    except yaml.reader.ReaderError as exc:
        span = lines.span(exc.position, exc.position + 1)
        char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1])
        return LoadResult(None, [error("E0110", f"YAML syntax error: unacceptable character "
                                       f"#x{char:04x}: {exc.reason}", span)])
    except yaml.YAMLError as exc:  # any other PyYAML error carries no position
        return LoadResult(None, [error("E0110", f"YAML syntax error: {exc}",
                                       lines.span(0, 0))])
    except RecursionError:
        return LoadResult(None, [error(
            "E0113", "the YAML document is nested too deeply", lines.span(0, 0),
            hint=f"ChatFlow accepts at most {MAX_DEPTH} levels of nesting")])
    if node is None:
        return LoadResult(None, [])
    converter = _Converter(lines)
    root = converter.convert(node, 0)
    return LoadResult(root, converter.diagnostics, converter.raw)


def _syntax_error(exc: yaml.MarkedYAMLError, lines: LineIndex) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    hint = None
    if exc.context and exc.problem:
        hint = exc.context
        if exc.context_mark is not None and exc.context_mark is not mark:
            line, column = lines.position(exc.context_mark.index)
            hint += f" (at line {line}, column {column})"
    if "\t" in problem or "'\\t'" in problem:
        hint = "YAML indentation must use spaces, not tabs"
    index = mark.index if mark is not None else 0
    end = index + 1 if index < len(lines.text) and lines.text[index] != "\n" else index
    return error("E0110", f"YAML syntax error: {problem}", lines.span(index, end), hint)


class _Converter:
    def __init__(self, lines: LineIndex) -> None:
        self.lines = lines
        self.diagnostics: list[Diagnostic] = []
        self.budget = MAX_NODES
        self.active: set[int] = set()  # ids of nodes on the current path
        self.constructor = SafeConstructor()
        self.resolver = yaml.resolver.Resolver()
        self.failed = False  # stop after a fatal structural problem
        self.raw: list[YScalar] = []

    def node_span(self, node: yaml.Node) -> Span:
        return self.lines.trimmed_span(node.start_mark.index, node.end_mark.index)

    def convert(self, node: yaml.Node, depth: int) -> YNode:
        if self.failed:
            return self.placeholder(node)
        if depth > MAX_DEPTH:
            return self.fatal(node, "the YAML document is nested too deeply",
                              f"ChatFlow accepts at most {MAX_DEPTH} levels of nesting")
        self.budget -= 1
        if self.budget < 0:
            return self.fatal(node, "the YAML document is too large after expanding aliases",
                              f"at most {MAX_NODES} nodes are accepted")
        if id(node) in self.active:
            return self.fatal(node, "recursive YAML alias: a node contains itself",
                              "an alias (`*name`) cannot refer to an enclosing anchor")
        self.check_tag(node)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                items = [self.convert(child, depth + 1) for child in node.value]
                return YSeq(items, self.collection_span(node, [i.span for i in items]))
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, depth)
            return self.placeholder(node)
        finally:
            self.active.discard(id(node))

    def check_tag(self, node: yaml.Node) -> None:
        """Standard tags (`!!str`) and `!raw` on a scalar are read; any other
        tag is reported (E0117) instead of being silently ignored."""
        tag = node.tag or ""
        if tag.startswith(_TAG) or tag in ("!", "?"):
            return
        if tag == RAW_TAG:
            if not isinstance(node, yaml.ScalarNode):
                self.diagnostics.append(error(
                    "E0117", "`!raw` marks a string, not a list or mapping",
                    self.node_span(node), "put `!raw` before the string it applies to"))
            return
        guess = " (did you mean `!raw`?)" if tag.lower().strip("!") == "raw" else ""
        self.diagnostics.append(error(
            "E0117", f"unknown YAML tag `{tag}`{guess}", self.node_span(node),
            "the one tag ChatFlow reads is `!raw`: a string with no interpolation and no "
            "escapes"))

    def fatal(self, node: yaml.Node, message: str, hint: str) -> YNode:
        self.failed = True
        self.diagnostics.append(error("E0113", message, self.node_span(node), hint))
        return self.placeholder(node)

    def placeholder(self, node: yaml.Node) -> YScalar:
        span = self.node_span(node)
        return YScalar(None, "", span, span, False)

    def collection_span(self, node: yaml.Node, children: list[Span]) -> Span:
        """Block collections end where their next sibling starts; end them at
        their last child instead, so carets stay on the collection's lines."""
        start = node.start_mark.index
        if getattr(node, "flow_style", False) or not children:
            return self.node_span(node)
        end = max(s.end for s in children)
        return self.lines.span(start, max(end, start))

    def scalar(self, node: yaml.ScalarNode) -> YScalar:
        span = self.node_span(node)
        text: str = node.value
        style = node.style
        segments: tuple[tuple[int, int], ...] = ()
        start = self.content_start(span)
        if style in ('"', "'"):
            origin = self.lines.span(start + 1, max(start + 1, span.end - 1))
        elif style == "|":
            offsets = self.block_line_offsets(node)
            origin = self.lines.trimmed_span(offsets[0], node.end_mark.index) if offsets \
                else span
            starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
            segments = tuple(zip(starts, offsets, strict=False))
        elif style == ">":
            offsets = self.block_line_offsets(node)
            origin = self.lines.trimmed_span(offsets[0], node.end_mark.index) if offsets \
                else span
        else:
            origin = self.lines.span(start, span.end)
        if style != "|" and origin.end_line > origin.line:
            segments = self.folded_segments(text, origin)
        scalar = YScalar(self.resolve(node), text, span, origin, style is not None, segments,
                         node.tag == RAW_TAG)
        if scalar.raw:
            self.raw.append(scalar)
        return scalar

    def content_start(self, span: Span) -> int:
        """Where a scalar's own text starts: after its properties (a `!tag`,
        an `&anchor`) and the blanks after them."""
        text = self.lines.text
        i = span.start
        while i < span.end and text[i] in "!&":
            while i < span.end and text[i] not in " \t\r\n":
                i += 1
            while i < span.end and text[i] in " \t\r\n":
                i += 1
        return i

    def folded_segments(self, text: str, origin: Span) -> tuple[tuple[int, int], ...]:
        """Line starts of a folded scalar (plain, quoted or `>`), whose lines
        are joined by one space or newline each: matched line by line."""
        source = self.lines.text[origin.start:origin.end]
        segments: list[tuple[int, int]] = []
        position = 0
        offset = origin.start
        for number, line in enumerate(source.split("\n")):
            content = line.strip(" \t\r") if number else line.rstrip(" \t\r")
            lead = len(line) - len(line.lstrip(" \t")) if number else 0
            if not text.startswith(content, position):
                break
            segments.append((position, offset + lead))
            position += len(content) + 1
            offset += len(line) + 1
        return tuple(segments)

    def block_line_offsets(self, node: yaml.ScalarNode) -> tuple[int, ...]:
        """File offsets where each content line of a block scalar starts,
        after the block's indentation (that of its first non-blank line)."""
        text = self.lines.text
        start, end = node.start_mark.index, node.end_mark.index
        newline = text.find("\n", start, end)
        if newline < 0:
            return ()
        starts: list[int] = []
        index = newline + 1
        while index < end:
            starts.append(index)
            nl = text.find("\n", index, end)
            if nl < 0:
                break
            index = nl + 1
        indent = 0
        for line_start in starts:
            stripped = len(text[line_start:end].split("\n", 1)[0].lstrip(" "))
            line_length = len(text[line_start:end].split("\n", 1)[0])
            if stripped and text[line_start + line_length - stripped] not in "\r":
                indent = line_length - stripped
                break
        out = []
        for line_start in starts:
            spaces = 0
            while spaces < indent and line_start + spaces < end and \
                    text[line_start + spaces] == " ":
                spaces += 1
            out.append(line_start + spaces)
        return tuple(out)

    def resolve(self, node: yaml.ScalarNode) -> ScalarValue:
        tag = node.tag or ""
        if tag == RAW_TAG:  # the value it has untagged; the fields taking a string read `text`
            tag = self.resolver.resolve(yaml.ScalarNode, node.value, (node.style is None, False))  # type: ignore[no-untyped-call]
            node = yaml.ScalarNode(tag, node.value, node.start_mark, node.end_mark, node.style)
        try:
            if tag == _TAG + "null":
                return None
            if tag == _TAG + "bool":
                return bool(self.constructor.construct_yaml_bool(node))
            if tag == _TAG + "int":
                return int(self.constructor.construct_yaml_int(node))
            if tag == _TAG + "float":
                return float(self.constructor.construct_yaml_float(node))
        except (ValueError, KeyError, TypeError, IndexError, yaml.YAMLError):
            pass  # an explicit tag that does not fit (`!!int abc`): keep the text
        return str(node.value)

    def mapping(self, node: yaml.MappingNode, depth: int) -> YMap:
        result = YMap([], self.node_span(node))
        merges: list[tuple[int, yaml.Node]] = []
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _MERGE_TAG:
                merges.append((len(result.entries), value_node))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.diagnostics.append(error(
                    "E0111", "a mapping key must be a plain name, not a list or mapping",
                    self.node_span(key_node)))
                continue
            key = self.scalar(key_node)
            key.value = key.text  # keys are names: `on:`/`yes:` stay strings
            value = self.convert(value_node, depth + 1)
            first = result.entry(key.text)
            if first is not None:
                self.diagnostics.append(error(
                    "E0111", f"duplicate key `{key.text}`", key.span,
                    hint=f"`{key.text}` is already set at line {first.key.span.line}"))
                continue
            entry = YEntry(key, value)
            result.entries.append(entry)
            result._index[key.text] = entry
        for position, value_node in reversed(merges):
            merged = self.merged_entries(value_node, depth, result)
            result.entries[position:position] = merged
        result.span = self.collection_span(
            node, [e.value.span for e in result.entries] + [e.key.span for e in result.entries])
        return result

    def merged_entries(self, value_node: yaml.Node, depth: int, into: YMap) -> list[YEntry]:
        """`<<: *base` / `<<: [*a, *b]`: keys already present win."""
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        out: list[YEntry] = []
        for source in sources:
            converted = self.convert(source, depth + 1)
            if not isinstance(converted, YMap):
                self.diagnostics.append(error(
                    "E0111", "`<<` (merge key) needs a mapping or a list of mappings",
                    self.node_span(source)))
                continue
            for entry in converted.entries:
                if entry.key.text not in into:
                    into._index[entry.key.text] = entry
                    out.append(entry)
        return out


def to_plain(node: YNode) -> Plain:
    """The JSON-like data the schema validates (first occurrence of a key)."""
    if isinstance(node, YScalar):
        return node.value
    if isinstance(node, YSeq):
        return [to_plain(item) for item in node.items]
    return {e.key.text: to_plain(e.value) for e in node.entries}


def lookup(root: YNode, path: tuple[str | int, ...]) -> tuple[YNode | None, YScalar | None]:
    """The node at a JSON path, and the key scalar it is the value of (if any)."""
    node: YNode | None = root
    key: YScalar | None = None
    for step in path:
        if isinstance(node, YMap) and isinstance(step, str):
            entry = node.entry(step)
            if entry is None:
                return None, None
            node, key = entry.value, entry.key
        elif isinstance(node, YSeq) and isinstance(step, int) and 0 <= step < len(node.items):
            node, key = node.items[step], None
        else:
            return None, None
    return node, key


def remap_spans(value: Any, scalar: YScalar, lines: LineIndex) -> Any:
    """`value` (an AST node or diagnostic parsed from `scalar.text` with
    `scalar.origin`) with every span moved to the real file position; only
    literal block scalars need it, whose lines are indented in the file."""
    if len(scalar.segments) < 2:
        return value
    base = scalar.origin.start

    def move(span: Span) -> Span:
        start = scalar.file_offset(max(0, span.start - base))
        end = scalar.file_offset(max(0, span.end - base))
        return lines.span(start, end)

    return _map_spans(value, move, scalar.origin.file)


def _map_spans(value: Any, move: Callable[[Span], Span], file: str) -> Any:
    if isinstance(value, Span):
        return move(value) if value.file == file else value
    if isinstance(value, tuple):
        return tuple(_map_spans(v, move, file) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _map_spans(getattr(value, f.name), move, file)
                   for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    return value
