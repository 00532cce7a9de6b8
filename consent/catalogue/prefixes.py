"""One regular expression that finds the longest of a fixed set of prefixes a name starts with."""

from __future__ import annotations

import re
from collections.abc import Iterable

_NEVER = re.compile("(?!)")
"""Matches nothing: the expression of an empty set of prefixes."""

_Node = dict[str, "_Node"]


def longest_prefix_regex(prefixes: Iterable[str]) -> re.Pattern[str]:
    """An expression whose ``match(name)`` is the longest of ``prefixes`` that ``name`` starts with.

    The prefixes are laid out as a trie: ``{"_s", "_sid", "_sp_id."}`` becomes
    ``_s(?:(?:id|p_id\\.))?``. At each character the branches start with
    different characters, so at most one of them can go on, and where a prefix
    ends the rest of the path is optional and greedy: the match stops at the
    longest prefix of the name. The engine walks the name once, in C, however
    many prefixes there are, and never further than the longest prefix.
    """
    root: _Node = {}
    for prefix in prefixes:
        if not prefix:
            raise ValueError("the empty prefix would match every name")
        node = root
        for char in prefix:
            node = node.setdefault(char, {})
        node[""] = {}  # a prefix ends here
    return re.compile(_node_pattern(root)) if root else _NEVER


def _node_pattern(node: _Node) -> str:
    branches = [
        re.escape(char) + _node_pattern(child) for char, child in sorted(node.items()) if char
    ]
    if not branches:
        return ""
    group = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if "" in node:
        # A prefix ends at this node: go further when the name allows it, else stop here.
        return f"(?:{group})?"
    return group
