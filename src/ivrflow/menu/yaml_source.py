"""A YAML reader fit for phone numbers, and bounded against hostile files.

Plain YAML reads `071` as the octal number 57, `+79876543210` as an integer
without its plus, and keeps the last of two equal keys. In a voice menu each of
these silently changes where calls go, so this reader keeps digit strings as
written, reads mapping keys as their text, and rejects duplicate keys.

Scanning and parsing run in libyaml when PyYAML has it (about ten times
faster than the pure-Python parser); composing stays in Python so the nesting
depth is counted node by node and a deep file is refused before anything
recurses on it.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

# A menu nests about a dozen levels (ivrs, contexts, options, rules, routes); 64 is ample.
MAX_DEPTH = 64
# A 1,000-ivr menu has about 150,000 values; aliases may not make a file stand for more than this.
MAX_EXPANDED_NODES = 2_000_000

# Only canonical decimal integers are numbers; `050`, `+7...`, `0x1f`, `1_000` stay text.
_CANONICAL_INT = re.compile(r"^(?:0|-?[1-9][0-9]*)$")

class DuplicateKey(yaml.MarkedYAMLError):
    pass


class BeyondLimits(yaml.MarkedYAMLError):
    pass


class _DepthComposer(Composer):
    """The pure-Python composer, counting how deep the node it builds is nested.

    Aliases let a small file stand for a huge tree (each `*a` repeats all of
    `&a`); the tree a document expands to is counted before anything walks it.
    """

    _depth = 0
    _aliased = False

    def compose_document(self) -> Node | None:
        root: Node | None = super().compose_document()
        if root is not None and self._aliased:  # without aliases the file's size bounds the tree
            _check_expanded_size(root)
        return root

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                event = self.peek_event()  # type: ignore[attr-defined]
                raise BeyondLimits(
                    None, None, f"nested more than {MAX_DEPTH} levels deep; a menu needs about a dozen",
                    event.start_mark,
                )
            if self.check_event(AliasEvent):  # type: ignore[attr-defined]
                self._aliased = True
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, ScalarNode):
        return []
    return list(node.value)


def _check_expanded_size(root: Node) -> None:
    """Count the nodes `root` stands for with every alias expanded; refuse too many, or a cycle."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if children_done:
            open_nodes.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[id(node)] > MAX_EXPANDED_NODES:
                raise BeyondLimits(
                    None, None,
                    f"aliases expand it to more than {MAX_EXPANDED_NODES} values; write the repeated parts out",
                    node.start_mark,
                )
            continue
        if id(node) in open_nodes:
            raise BeyondLimits(None, None, "an alias refers to the node that holds it", node.start_mark)
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


class _Constructor(SafeConstructor):
    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.style is None:
                key: Any = key_node.value
            else:
                key = self.construct_object(key_node, deep=deep)
            if key in mapping:
                raise DuplicateKey(
                    "while reading a mapping",
                    node.start_mark,
                    f"key {key!r} appears twice; keep one",
                    key_node.start_mark,
                )
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


class _MenuResolver(Resolver):
    pass


_MenuResolver.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:int"]
    for first, resolvers in Resolver.yaml_implicit_resolvers.items()
}
_MenuResolver.add_implicit_resolver("tag:yaml.org,2002:int", _CANONICAL_INT, list("-0123456789"))
_Constructor.add_constructor(Resolver.DEFAULT_MAPPING_TAG, _Constructor.construct_mapping)  # type: ignore[type-var]


class PurePythonMenuLoader(Reader, Scanner, Parser, _DepthComposer, _Constructor, _MenuResolver):
    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        _DepthComposer.__init__(self)
        _Constructor.__init__(self)
        _MenuResolver.__init__(self)


MenuYamlLoader: type[PurePythonMenuLoader] | type[Any] = PurePythonMenuLoader
try:
    from yaml._yaml import CParser
except ImportError:  # PyYAML built without libyaml: the pure-Python parser, same rules
    LibyamlMenuLoader = None
else:

    class _LibyamlMenuLoader(_DepthComposer, CParser, _Constructor, _MenuResolver):
        # CParser brings its own C composer; the Python one ahead of it in the MRO
        # composes from CParser's events instead, so the depth bound holds.
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _DepthComposer.__init__(self)
            _Constructor.__init__(self)
            _MenuResolver.__init__(self)

    LibyamlMenuLoader = _LibyamlMenuLoader
    MenuYamlLoader = _LibyamlMenuLoader


def parse_yaml(text: str, loader_class: type[Any] | None = None) -> Any:
    loader = (loader_class or MenuYamlLoader)(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
