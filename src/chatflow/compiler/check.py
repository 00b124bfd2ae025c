"""Check a loaded program: build each flow's graph and symbol table, type its
expressions, run every rule of `rules.RULES`, and return all diagnostics,
sorted, in one pass (never stopping at the first problem). Nothing is
reported inside text the parser could not read and already reported (a
malformed number: one mistake, one report)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from chatflow.compiler.agent_names import AgentCatalog
from chatflow.compiler.graph import FlowGraph, build_graph
from chatflow.compiler.loader import Program
from chatflow.compiler.rules import RULES
from chatflow.compiler.rules.base import FlowContext
from chatflow.compiler.symbols import FlowSymbols, Signature, build_symbols, signature_of
from chatflow.compiler.typecheck import TypedFlow, type_flow
from chatflow.diagnostics import Diagnostic, Span, sort_diagnostics
from chatflow.gcpause import no_cyclic_gc


@dataclass
class CheckedProgram:
    program: Program
    graphs: dict[str, FlowGraph]          # by unit key
    symbols: dict[str, FlowSymbols]       # by unit key (field types etc.)
    typed: dict[str, TypedFlow] = field(default_factory=dict)  # expression types, reads
    signatures: dict[str, Signature] = field(default_factory=dict)


def check_program(program: Program, agents: Callable[[], AgentCatalog] | None = None
                  ) -> tuple[CheckedProgram, list[Diagnostic]]:
    """Check every flow unit. Warnings are kept only for the root file's
    flows: imported files are linted on their own. `agents` gives the agents
    a run could find (W0115 unknown-agent); None leaves agent names unchecked."""
    with no_cyclic_gc():
        return _check_program(program, agents)


def _check_program(program: Program, agents: Callable[[], AgentCatalog] | None
                   ) -> tuple[CheckedProgram, list[Diagnostic]]:
    signatures = {key: signature_of(key, unit.flow)[0] for key, unit in program.units.items()}
    checked = CheckedProgram(program, {}, {}, {}, signatures)
    diags: list[Diagnostic] = []
    for key, unit in program.units.items():
        graph, graph_diags = build_graph(unit.flow)
        callables = unit.callables

        def callee(name: str, callables: dict[str, str] = callables) -> Signature | None:
            k = callables.get(name)
            return signatures.get(k) if k is not None else None

        symbols, symbol_diags = build_symbols(unit.flow, callee)
        typed = type_flow(unit.flow, symbols, graph, source=program.sources.get(unit.module.path))
        checked.graphs[key] = graph
        checked.symbols[key] = symbols
        checked.typed[key] = typed
        ctx = FlowContext(program, unit, graph, symbols, typed, signatures,
                          graph_diags + symbol_diags, agents)
        for rule in RULES:
            if rule.check is None:
                continue
            for d in rule.check(ctx):
                if unit.is_root or d.is_error:
                    diags.append(d)
    if program.placeholders:
        diags = [d for d in diags if not _inside_placeholder(d.span, program.placeholders)]
    return checked, sort_diagnostics(diags)


def _inside_placeholder(span: Span, placeholders: list[Span]) -> bool:
    """Is `span` within text the parser could not read (already reported)?"""
    return any(p.file == span.file and p.start <= span.start and span.end <= p.end
               for p in placeholders)
