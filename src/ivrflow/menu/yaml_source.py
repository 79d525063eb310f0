"""A YAML reader fit for phone numbers.

Plain YAML reads `071` as the octal number 57, `+79876543210` as an integer
without its plus, and keeps the last of two equal keys. In a voice menu each of
these silently changes where calls go, so this reader keeps digit strings as
written, reads mapping keys as their text, and rejects duplicate keys.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode

# Only canonical decimal integers are numbers; `050`, `+7...`, `0x1f`, `1_000` stay text.
_CANONICAL_INT = re.compile(r"^(?:0|-?[1-9][0-9]*)$")


class DuplicateKey(yaml.MarkedYAMLError):
    pass


class MenuYamlLoader(yaml.SafeLoader):
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


MenuYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:int"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
MenuYamlLoader.add_implicit_resolver("tag:yaml.org,2002:int", _CANONICAL_INT, list("-0123456789"))
MenuYamlLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, MenuYamlLoader.construct_mapping
)


def parse_yaml(text: str) -> Any:
    return yaml.load(text, Loader=MenuYamlLoader)  # noqa: S506 - a SafeLoader subclass
