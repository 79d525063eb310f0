"""Draw an ivr as a diagram: contexts, their options, and where each option leads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..menu.model import (
    SPECIAL_OPTIONS,
    Context,
    HangupRule,
    Ivr,
    JumpToContext,
    Menu,
    PlaySound,
    Rule,
    SimpleTransfer,
    TransferFromVariable,
    TransferRule,
)

ENDING = (TransferRule, SimpleTransfer, TransferFromVariable, HangupRule, JumpToContext)


@dataclass
class Graph:
    nodes: dict[str, str] = field(default_factory=dict)  # id -> label
    edges: list[tuple[str, str, str]] = field(default_factory=list)

    def node(self, node_id: str, label: str) -> str:
        self.nodes.setdefault(node_id, label)
        return node_id

    def edge(self, source: str, target: str, label: str) -> None:
        self.edges.append((source, target, label))


def build(menu: Menu, ivr: Ivr) -> Graph:
    graph = Graph()
    call = graph.node("call", "call")
    entry = ivr.context(ivr.entry_context)
    if entry is not None:
        graph.edge(call, _option(graph, menu, entry, "start"), f"after {ivr.sleep_time} ms")
    for context in ivr.contexts:
        waiting = graph.node(f"c{context.id}_input", f"context {context.id} {context.name}: wait for digits")
        for option in sorted(context.options, key=_order):
            node = _option(graph, menu, context, option)
            if option != "start":
                graph.edge(waiting, node, option)
            target, label = _leads_to(graph, menu, ivr, context, option)
            graph.edge(node, target, label)
        if context.allow_any_dial:
            graph.edge(waiting, graph.node("direct_dial", "transfer to the number typed"), f"any {context.digit_len} digits")
        for special in ("timeout", "invalid"):
            if special not in context.options:
                graph.edge(waiting, graph.node("hangup", "hang up"), special)
    return graph


def _option(graph: Graph, menu: Menu, context: Context, option: str) -> str:
    steps = [_describe(menu, rule) for rule in context.rules(option) if not isinstance(rule, ENDING)]
    label = "\n".join([f"{context.id} / {option}", *steps])
    return graph.node(f"c{context.id}_{option.replace('*', 'star').replace('#', 'hash')}", label)


def _describe(menu: Menu, rule: Rule) -> str:
    if isinstance(rule, PlaySound):
        sound = menu.sound(rule.sound)
        return f"play {sound.filename if sound else rule.sound} ({rule.sound_type})"
    return rule.action.replace("_", " ")


def _leads_to(graph: Graph, menu: Menu, ivr: Ivr, context: Context, option: str) -> tuple[str, str]:
    for rule in context.rules(option):
        if isinstance(rule, (TransferRule, SimpleTransfer)):
            node = graph.node(f"dst{len(graph.nodes)}", f"{rule.action} {rule.transfer_dst}")
            return node, "transfer"
        if isinstance(rule, TransferFromVariable):
            return graph.node(f"var_{rule.transfer_variable}", f"transfer to ${{{rule.transfer_variable}}}"), "transfer"
        if isinstance(rule, HangupRule):
            return graph.node("hangup", "hang up"), "hangup"
        if isinstance(rule, JumpToContext):
            target = ivr.context(rule.context)
            if target is not None:
                return _option(graph, menu, target, rule.context_option), "jump"
    if option == "start":
        return f"c{context.id}_input", "then"
    return graph.node("hangup", "hang up"), "no more rules"


def _order(option: str) -> tuple[int, str]:
    if option in SPECIAL_OPTIONS:
        return SPECIAL_OPTIONS.index(option), ""
    return len(SPECIAL_OPTIONS), option


def render(menu: Menu, ivr: Ivr, fmt: Literal["dot", "mermaid"]) -> str:
    graph = build(menu, ivr)
    if fmt == "dot":
        lines = [f'digraph "ivr {ivr.extension}" {{', "  rankdir=LR;", '  node [shape=box, fontname="sans"];']
        lines += [f'  {n} [label="{_dot(label)}"];' for n, label in graph.nodes.items()]
        lines += [f'  {s} -> {t} [label="{_dot(label)}"];' for s, t, label in graph.edges]
        return "\n".join([*lines, "}"]) + "\n"
    lines = ["flowchart LR"]
    lines += [f'  {n}["{_mermaid(label)}"]' for n, label in graph.nodes.items()]
    lines += [f'  {s} -->|"{_mermaid(label)}"| {t}' for s, t, label in graph.edges]
    return "\n".join(lines) + "\n"


def _dot(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _mermaid(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", "<br/>")
