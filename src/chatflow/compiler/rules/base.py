"""What every rule sees and is: the per-flow `FlowContext` (the results of the
shared analyses) and the `Rule` record (code, name, description, severity)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from chatflow.compiler.agent_names import AgentCatalog
from chatflow.compiler.graph import FlowGraph
from chatflow.compiler.loader import FlowUnit, Program
from chatflow.compiler.symbols import FlowSymbols, Signature
from chatflow.compiler.typecheck import TypedFlow
from chatflow.diagnostics import Diagnostic, Severity
from chatflow.dsl import ast


@dataclass
class FlowContext:
    program: Program
    unit: FlowUnit
    graph: FlowGraph
    symbols: FlowSymbols
    typed: TypedFlow
    signatures: dict[str, Signature]
    # diagnostics found while building the graph and the symbol table
    found: list[Diagnostic] = field(default_factory=list)
    # the agents a run could find (given by the caller; None: not checked)
    agents: Callable[[], AgentCatalog] | None = None
    _items: list[ast.Item] | None = None

    @property
    def flow(self) -> ast.Flow:
        return self.unit.flow

    @property
    def items(self) -> list[ast.Item]:
        """Every item of the flow, groups' members included, source order."""
        if self._items is None:
            self._items = ast.iter_items(self.flow.items)
        return self._items

    def steps(self) -> Iterable[ast.Step]:
        return (i for i in self.items if isinstance(i, ast.Step))

    def groups(self) -> Iterable[ast.Group]:
        return (i for i in self.items if isinstance(i, ast.Group))

    def reported(self, code: str) -> list[Diagnostic]:
        """Diagnostics with `code` found by the shared analyses."""
        return [d for d in self.found if d.code == code] + self.typed.reported(code)

    @property
    def first_in_module(self) -> bool:
        """True for the first flow of its file (module-wide rules run once)."""
        flows = self.unit.module.flows
        return bool(flows) and flows[0] is self.unit.flow


Check = Callable[[FlowContext], Iterable[Diagnostic]]


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    description: str
    severity: Severity
    check: Check | None   # None: reported while loading (imports), not per flow


def reported_by_analysis(code: str) -> Check:
    """The check of a rule whose problems the shared analyses find (the
    expression typer, the graph builder, the symbol table)."""

    def check(ctx: FlowContext) -> list[Diagnostic]:
        return ctx.reported(code)

    return check
