"""The YAML front-end: docs/language.md §9 text → the same AST as the `.flow` parser.

`parse_yaml(text, path)` composes the YAML with positions (`yaml_nodes`),
validates it against `schemas/flow.schema.json` (`yaml_schema`), then builds
`ast.Module` from the positioned nodes, parsing expression, template and type
fields with the `.flow` parser so nested spans point into the YAML file.

A file holds one flow (a mapping with `flow:`) or several: a mapping with
`flows:` (a list of such mappings) and optional top-level `imports:`. Imports
written inside a flow mapping also become module imports.

Field kinds (docs/language.md §9):
- expression fields (`when`, `until`, `max`, `output` values, `out` and `vars`
  `value`s, `set`'s `value`): the scalar's text is parsed as an expression,
  so `value: 0` and `value: "0"` are the same;
- template fields (`shell`, `approve`, `fail`, `prompt`, `cwd`, and the
  string settings): the text is a `.flow` string literal's content;
- value fields (`with`, `env`, `call` arguments): YAML numbers, booleans and
  null are literals, a string that is exactly `{EXPR}` is that expression,
  any other string a template; lists and mappings give list and map
  expressions of values;
- `default`s are YAML scalars taken literally (a duration string for a
  `duration` param is a duration); durations (`timeout`, `backoff`, quota
  `cpu`/`wall`) are strings such as `10m`;
- a string tagged `!raw` is taken exactly as written (no interpolation, no
  escapes) in a template, value or expression field — the twin of a `.flow`
  raw string `'…'` / `'''…'''` (`yaml_fields`).

Diagnostic codes:
- E0110 YAML syntax error (PyYAML's problem, at its line and column).
- E0111 schema violation: unknown key (with "did you mean"), wrong type,
  missing required key, invalid name, duplicate key, non-scalar key.
- E0112 a step with no action key or several (`shell` and `call`), or an
  item of `steps` that is several kinds at once (`step` and `phase`).
- E0113 structure refused: nesting deeper than `yaml_nodes.MAX_DEPTH` levels
  (room for the twin of any `.flow` source), a recursive alias,
  or aliases expanding past 100,000 nodes.
- E0114 a duration field that is not a duration (`timeout: 10` has no unit).
- E0117 a YAML tag other than `!raw` and the standard ones, or `!raw` where
  no string is read (a name, a number, a duration, a list or mapping).
An empty document gives an empty module: the loader reports E0115 (no flow)
for it as for an empty `.flow` file. Expression, template and type syntax
errors keep the `.flow` parser's codes.
"""

from __future__ import annotations

from typing import TypeVar

from chatflow.deep import MAX_NESTING
from chatflow.diagnostic_codes import register_table
from chatflow.diagnostics import Diagnostic, Span, error, sort_diagnostics
from chatflow.dsl import ast
from chatflow.dsl.yaml_fields import FieldReader
from chatflow.dsl.yaml_nodes import (
    LineIndex,
    YEntry,
    YMap,
    YNode,
    YScalar,
    YSeq,
    load_nodes,
)
from chatflow.dsl.yaml_schema import ACTION_KEYS, KIND_KEYS, STEP_KEYS, validate
from chatflow.plugins import ActionKind

__all__ = ["parse_yaml"]


SETTING_KEYS = ("version", "description", "automation", "max_depth", "parallelism")
_STRING_SETTINGS = ("version", "description", "parallelism")
_TEMPLATE_OPTIONS = ("prompt", "cwd")
_MAP_OPTIONS = ("with", "env")

T = TypeVar("T")


def parse_yaml(text: str, path: str) -> tuple[ast.Module | None, list[Diagnostic]]:
    """Parse a YAML flow file. Returns the module (None when nothing usable
    was read) and every diagnostic, in source order. Never raises on input."""
    loaded = load_nodes(text, path)
    diags = list(loaded.diagnostics)
    root = loaded.root
    if not diags and (root is None or (isinstance(root, YScalar) and root.value is None)):
        # Nothing, comments only, or an explicitly empty document (`---`, `~`):
        # an empty module, which the loader reports as E0115 like an empty `.flow`.
        return ast.Module(path, (), (), LineIndex(path, text).span(0, 0)), []
    if root is None:
        return None, sort_diagnostics(diags)
    if any(d.code == "E0113" for d in diags):
        return None, sort_diagnostics(diags)
    diags.extend(validate(root))
    if not isinstance(root, YMap):
        return None, sort_diagnostics(diags)
    builder = _Builder(path, LineIndex(path, text))
    module = builder.module(root)
    diags.extend(builder.diagnostics)
    diags.extend(error("E0117", "`!raw` does not apply to this field", scalar.span,
                       "`!raw` marks a string taken as written: use it on template fields "
                       "(shell, prompt, approve, fail, cwd), values (with, env, call "
                       "arguments) and expression fields")
                 for scalar in loaded.raw if id(scalar) not in builder.raw_read)
    return module, sort_diagnostics(diags)


CODES: dict[str, tuple[str, str]] = register_table({
    "E0110": ("yaml-syntax", "YAML syntax error"),
    "E0111": ("yaml-schema", "the YAML does not fit the flow schema (unknown key, wrong type, "
                             "missing key, invalid name, duplicate key)"),
    "E0112": ("yaml-step-action", "a YAML step needs exactly one action key (and an item "
                                  "exactly one kind)"),
    "E0113": ("yaml-structure", "YAML nesting too deep, recursive alias or alias bomb"),
    "E0114": ("yaml-duration", "a YAML duration field without a unit or malformed"),
    "E0117": ("yaml-tag", "a YAML tag ChatFlow does not read (it reads `!raw`, a string "
                          "with no interpolation), or `!raw` on a field that is not a string"),
})
"""code → (name, description), registered in `chatflow.diagnostic_codes`."""


class _Builder(FieldReader):
    """Positioned YAML nodes → AST. Shapes the schema rejects are skipped
    silently (already reported); only what the schema cannot say is reported
    here, plus the `.flow` parser's diagnostics for embedded text."""

    # ------------------------------------------------------------------ module

    def module(self, root: YMap) -> ast.Module:
        imports: list[ast.Import] = []
        flows: list[ast.Flow] = []
        flows_node = root.get("flows")
        if "flows" in root:
            imports.extend(self.imports(root.get("imports")))
            if isinstance(flows_node, YSeq):
                for item in flows_node.items:
                    if isinstance(item, YMap):
                        imports.extend(self.imports(item.get("imports")))
                        self.append(flows, self.flow(item))
        else:
            imports.extend(self.imports(root.get("imports")))
            self.append(flows, self.flow(root))
        return ast.Module(self.path, tuple(imports), tuple(flows), self.lines.whole())

    @staticmethod
    def append(out: list[T], item: T | None) -> None:
        if item is not None:
            out.append(item)

    def imports(self, node: YNode | None) -> list[ast.Import]:
        out: list[ast.Import] = []
        if not isinstance(node, YSeq):
            return out
        for item in node.items:
            if not isinstance(item, YMap):
                continue
            source = item.get("from")
            names = self.names(item.get("names"))
            if isinstance(source, YScalar) and isinstance(source.value, str) and names:
                literal = ast.Literal(source.value, source.span)
                out.append(ast.Import(names, literal, item.span))
        return out

    # ------------------------------------------------------------------ flow

    def flow(self, node: YMap) -> ast.Flow | None:
        name = self.ident(node.get("flow"))
        params = self.params(node.get("params"))
        outputs = self.outputs(node.get("outputs"))
        items: list[ast.Item] = []
        for entry in node.entries:
            key = entry.key.text
            if key in SETTING_KEYS:
                self.append(items, self.setting(entry))
            elif key == "quota":
                self.append(items, self.quota(entry))
            elif key == "vars":
                items.extend(self.vars(entry.value))
            elif key == "steps":
                items.extend(self.items(entry.value))
        output_entry = node.entry("output")
        if output_entry is not None and isinstance(output_entry.value, YMap):
            for out in output_entry.value.entries:
                value = self.expression(out.value)
                out_name = self.key_ident(out)
                if value is not None and out_name is not None:
                    items.append(ast.OutputItem(out_name, value, self.entry_span(out)))
        if name is None:
            return None
        return ast.Flow(name, tuple(params), tuple(outputs), tuple(items), node.span)

    def params(self, node: YNode | None) -> list[ast.Param]:
        out: list[ast.Param] = []
        if not isinstance(node, YMap):
            return out
        for entry in node.entries:
            name = self.key_ident(entry)
            spec = entry.value
            default: ast.Expr | None = None
            if isinstance(spec, YMap):
                type_ref = self.type_ref(spec.get("type"))
                default_node = spec.get("default")
                if default_node is not None and type_ref is not None:
                    default = self.default(default_node, type_ref)
            else:
                type_ref = self.type_ref(spec)
            if name is not None and type_ref is not None:
                out.append(ast.Param(name, type_ref, default, self.entry_span(entry)))
        return out

    def outputs(self, node: YNode | None) -> list[ast.OutputDecl]:
        out: list[ast.OutputDecl] = []
        if not isinstance(node, YMap):
            return out
        for entry in node.entries:
            name = self.key_ident(entry)
            type_ref = self.type_ref(entry.value)
            if name is not None and type_ref is not None:
                out.append(ast.OutputDecl(name, type_ref, self.entry_span(entry)))
        return out

    def setting(self, entry: YEntry) -> ast.Setting | None:
        node = entry.value
        value: ast.Expr | None = None
        if not isinstance(node, YScalar):
            return None
        if entry.key.text in _STRING_SETTINGS:
            if isinstance(node.value, str):
                value = self.template(node)
        else:
            value = self.integer(node)
        if value is None:
            return None
        return ast.Setting(self.key_ident_unchecked(entry), value, self.entry_span(entry))

    def quota(self, entry: YEntry) -> ast.Quota | None:
        if not isinstance(entry.value, YMap):
            return None
        entries: list[ast.QuotaEntry] = []
        for item in entry.value.entries:
            node = item.value
            value: ast.Expr | None = None
            if isinstance(node, YScalar):
                if item.key.text in ("cpu", "wall"):
                    value = self.duration(node)
                else:
                    value = self.integer(node)
            if value is not None:
                entries.append(ast.QuotaEntry(self.key_ident_unchecked(item), value,
                                              self.entry_span(item)))
        return ast.Quota(tuple(entries), self.entry_span(entry))

    def vars(self, node: YNode) -> list[ast.Var]:
        out: list[ast.Var] = []
        if not isinstance(node, YMap):
            return out
        for entry in node.entries:
            name = self.key_ident(entry)
            spec = entry.value
            if not isinstance(spec, YMap):
                continue
            type_ref = self.type_ref(spec.get("type"))
            value = self.expression(spec.get("value"))
            if name is not None and type_ref is not None and value is not None:
                out.append(ast.Var(name, type_ref, value, self.entry_span(entry)))
        return out

    # ------------------------------------------------------------------ steps and groups

    def items(self, node: YNode | None) -> list[ast.Item]:
        out: list[ast.Item] = []
        if not isinstance(node, YSeq):
            return out
        for item in node.items:
            if isinstance(item, YMap):
                self.append(out, self.item(item))
        return out

    def item(self, node: YMap) -> ast.Step | ast.Group | None:
        kinds = [e for e in node.entries if e.key.text in KIND_KEYS]
        if len(kinds) > 1:
            first, second = kinds[0].key.text, kinds[1].key.text
            self.diagnostics.append(error(
                "E0112", f"this item is both a `{first}` and a `{second}`", kinds[1].key.span,
                hint="an item of `steps` is one step (`step:`) or one group "
                     "(`phase:`, `parallel:` or `repeat:`)"))
            return None
        kind = kinds[0].key.text if kinds else "step"
        if kind == "step":
            return self.step(node)
        return self.group(kind, node)

    def step(self, node: YMap) -> ast.Step | None:
        name = self.ident(node.get("step"))
        after = self.after(node.get("after"))
        when = self.optional_expression(node, "when")
        actions = [e for e in node.entries
                   if e.key.text in ACTION_KEYS or self.plugin_kind(e.key.text) is not None]
        label = f"step `{name.name}`" if name is not None else "this step"
        if not actions:
            step_entry = node.entry("step")
            span = step_entry.key.span if step_entry is not None else node.span
            self.diagnostics.append(error(
                "E0112", f"{label} has no action", span,
                hint="add one of " + ", ".join(f"`{k}:`" for k in ACTION_KEYS)))
            return None
        if len(actions) > 1:
            keys = " and ".join(f"`{a.key.text}`" for a in actions)
            self.diagnostics.append(error(
                "E0112", f"{label} has several actions: {keys}", actions[1].key.span,
                hint="a step runs exactly one action; split it into several steps"))
            return None
        action = self.action(actions[0], node)
        plugin = self.plugin_kind(actions[0].key.text)
        options = self.options(node, is_call=actions[0].key.text == "call",
                               plugin_options=tuple(plugin.options) if plugin else ())
        if name is None or action is None or options is None:
            return None
        return ast.Step(name, after, when, action, options, node.span)

    def plugin_kind(self, key: str) -> ActionKind | None:
        """The installed plugin kind named `key`, for a key that is no
        built-in step key (only then are the installed plugins scanned)."""
        if key in STEP_KEYS:
            return None
        from chatflow.plugins import find_kind

        kind = find_kind(key)
        return kind if kind is not None and not kind.builtin else None

    def action(self, entry: YEntry, step: YMap) -> ast.Action | None:
        kind = entry.key.text
        node = entry.value
        span = self.entry_span(entry)
        if kind not in ACTION_KEYS:  # a plugin's kind: `http: "https://…"`
            url = self.template(node)
            name = self.key_ident_unchecked(entry)
            return ast.UnknownAction(name, url, span) if url is not None else None
        if kind in ("shell", "approve", "fail"):
            message = self.template(node)
            if message is None:
                return None
            if kind == "shell":
                return ast.ShellAction(message, span)
            if kind == "approve":
                return ast.ApproveAction(message, span)
            return ast.FailAction(message, span)
        if kind in ("python", "agent"):
            if not isinstance(node, YScalar) or not isinstance(node.value, str):
                return None
            literal = ast.Literal(node.value, node.span)
            return ast.PythonAction(literal, span) if kind == "python" else \
                ast.AgentAction(literal, span)
        if kind == "call":
            flow = self.ident(node)
            args: list[ast.Argument] = []
            with_entry = step.entry("with")
            if with_entry is not None and isinstance(with_entry.value, YMap):
                for arg in with_entry.value.entries:
                    arg_name = self.key_ident(arg)
                    value = self.value(arg.value)
                    if arg_name is not None and value is not None:
                        args.append(ast.Argument(arg_name, value, self.entry_span(arg)))
            return ast.CallAction(flow, tuple(args), span) if flow is not None else None
        # set
        target = self.ident(node)
        value_entry = step.entry("value")
        value = self.expression(value_entry.value) if value_entry is not None else None
        if target is None or value is None:
            return None
        return ast.SetAction(target, value, span)

    def options(self, step: YMap, is_call: bool,
                plugin_options: tuple[str, ...] = ()) -> tuple[ast.StepOption, ...] | None:
        out: list[ast.StepOption] = []
        ok = True
        for entry in step.entries:
            key = entry.key.text
            if key == "with" and is_call:
                continue
            if key in plugin_options and key not in STEP_KEYS:  # a plugin kind's option
                value = self.value(entry.value)
                if value is None:
                    ok = False
                    continue
                out.append(ast.Option(self.key_ident_unchecked(entry), value,
                                      self.entry_span(entry)))
                continue
            option = self.option(entry)
            if option is None:
                ok = False
            out.extend(option or ())
        return tuple(out) if ok else None

    def option(self, entry: YEntry) -> list[ast.StepOption] | None:
        """The options one YAML key gives; [] for keys that are not options;
        None when the option is broken (already reported)."""
        key = entry.key.text
        node = entry.value
        span = self.entry_span(entry)
        name = self.key_ident_unchecked(entry)
        value: ast.Expr | None
        if key == "timeout":
            value = self.duration(node)
        elif key == "risk":
            value = self.integer(node)
        elif key == "continue_on_error":
            if not isinstance(node, YScalar) or not isinstance(node.value, bool):
                return None
            return [ast.Option(name, None, span)] if node.value else []
        elif key in _TEMPLATE_OPTIONS:
            value = self.template(node)
        elif key in _MAP_OPTIONS:
            value = self.value_map(node) if isinstance(node, YMap) else None
        elif key == "retry":
            retry = self.retry(node, span)
            return [retry] if retry is not None else None
        elif key == "out":
            return self.out_fields(node)
        else:
            return []
        return [ast.Option(name, value, span)] if value is not None else None

    def retry(self, node: YNode, span: Span) -> ast.RetryOption | None:
        if isinstance(node, YScalar):
            times = self.integer(node)
            return ast.RetryOption(times, None, span) if times is not None else None
        if not isinstance(node, YMap):
            return None
        times = self.integer(node.get("times"))
        if times is None:
            return None
        backoff_node = node.get("backoff")
        backoff = self.duration(backoff_node) if backoff_node is not None else None
        if backoff_node is not None and backoff is None:
            return None
        return ast.RetryOption(times, backoff, span)

    def out_fields(self, node: YNode) -> list[ast.StepOption] | None:
        if not isinstance(node, YMap):
            return None
        out: list[ast.StepOption] = []
        for entry in node.entries:
            name = self.key_ident(entry)
            spec = entry.value
            if not isinstance(spec, YMap):
                return None
            type_ref = self.type_ref(spec.get("type"))
            value = self.expression(spec.get("value"))
            if name is None or type_ref is None or value is None:
                return None
            out.append(ast.OutField(name, type_ref, value, self.entry_span(entry)))
        return out

    groups_open = 0
    """Groups around the one being built: as in `.flow`, the flow's body is
    one level and each group one more (E0107 past MAX_NESTING)."""

    def group(self, kind: str, node: YMap) -> ast.Group | None:
        if self.groups_open + 2 > MAX_NESTING:
            from chatflow.dsl.syntax_errors import too_deep

            self.diagnostics.append(too_deep(node.span, MAX_NESTING))
            return None
        name = self.ident(node.get(kind))
        after = self.after(node.get("after"))
        when = self.optional_expression(node, "when")
        max_value = self.optional_expression(node, "max")
        until = self.optional_expression(node, "until")
        self.groups_open += 1
        try:
            items = self.items(node.get("steps"))
        finally:
            self.groups_open -= 1
        if name is None:
            return None
        return ast.Group(kind, name, after, when, max_value, until, tuple(items), node.span)

    def after(self, node: YNode | None) -> tuple[ast.Ident, ...] | None:
        if node is None:
            return None
        return self.names(node)

    def names(self, node: YNode | None) -> tuple[ast.Ident, ...]:
        if isinstance(node, YScalar):
            one = self.ident(node)
            return (one,) if one is not None else ()
        if isinstance(node, YSeq):
            return tuple(i for i in (self.ident(n) for n in node.items) if i is not None)
        return ()
