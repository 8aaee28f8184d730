"""Rights (media): the tree of exploitable rights and the sets of leaves grants hold.

This module owns what "SVOD", "distribution" or "dvd" mean. The default tree and its
aliases ship as data in ``ledger/data/rights.json``. A grant of a node covers every node
below it, so the ledger stores and compares rights as sets of leaves: two right sets
overlap exactly when their leaf sets intersect, which is the same as one holding an
ancestor-or-self of a node of the other.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ledger.errors import BadInput


def _key(name: str) -> str:
    """Names match case-insensitively, with spaces and underscores read as hyphens."""
    return re.sub(r"[\s_]+", "-", name.strip()).casefold()


@dataclass(frozen=True, eq=False)
class RightsTree:
    """A rooted tree of rights with aliases; nodes are kept in tree (pre-)order."""

    root: str
    nodes: tuple[str, ...]
    parents: Mapping[str, str | None]
    children: Mapping[str, tuple[str, ...]]
    aliases: Mapping[str, str]
    ema_license_types: Mapping[str, str]
    _leaves: Mapping[str, frozenset[str]]

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> RightsTree:
        """Build a tree from the rights.json shape: nested objects, then aliases."""
        (root, body), *rest = data["tree"].items()
        if rest:
            raise ValueError("rights tree must have exactly one root")
        nodes: list[str] = []
        parents: dict[str, str | None] = {}
        children: dict[str, tuple[str, ...]] = {}

        def walk(name: str, parent: str | None, subtree: Mapping[str, Any]) -> None:
            if name in parents or name != _key(name):
                raise ValueError(f"rights tree: duplicate or non-canonical node {name!r}")
            nodes.append(name)
            parents[name] = parent
            children[name] = tuple(subtree)
            for child, grandchildren in subtree.items():
                walk(child, name, grandchildren)

        walk(root, None, body)
        leaves: dict[str, frozenset[str]] = {}
        for name in reversed(nodes):  # children come after parents in pre-order
            below = children[name]
            leaves[name] = (
                frozenset().union(*(leaves[c] for c in below)) if below else frozenset({name})
            )
        aliases = {_key(alias): target for alias, target in data.get("aliases", {}).items()}
        ema = {k.upper(): v for k, v in data.get("ema_license_types", {}).items()}
        for alias, target in [*aliases.items(), *ema.items()]:
            if target not in parents:
                raise ValueError(f"rights alias {alias!r} points at unknown node {target!r}")
        return cls(
            root=root,
            nodes=tuple(nodes),
            parents=parents,
            children=children,
            aliases={a: t for a, t in aliases.items() if a not in parents},
            ema_license_types=ema,
            _leaves=leaves,
        )

    @property
    def all_leaves(self) -> frozenset[str]:
        return self._leaves[self.root]

    def resolve(self, name: str) -> str:
        """The canonical node for a name or alias; BadInput with a suggestion otherwise.

        EMA license types written as EMA writes them, in capitals, are EMA's: `VOD` is
        transactional VOD (DOMAIN.md lists `VOD` = tvod among the aliases), while the
        tree's own node name `vod` (any other casing) is the whole VOD branch.
        """
        if name.strip() in self.ema_license_types:
            return self.ema_license_types[name.strip()]
        key = _key(name)
        if key in self.parents:
            return key
        if key in self.aliases:
            return self.aliases[key]
        if not key:
            raise BadInput("empty right name")
        close = difflib.get_close_matches(key, [*self.nodes, *self.aliases], n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise BadInput(f"unknown right '{name.strip()}'{hint}")

    def leaves_of(self, node: str) -> frozenset[str]:
        """The leaves under `node` (a leaf is its own only leaf); accepts aliases."""
        return self._leaves[self.resolve(node)]

    def compact(self, leaves: Iterable[str]) -> tuple[str, ...]:
        """The highest nodes whose leaves are all present, in tree order."""
        wanted = frozenset(leaves)
        strangers = wanted - self.all_leaves
        if strangers:
            raise BadInput(f"not leaf rights: {', '.join(sorted(strangers))}")
        found: list[str] = []

        def visit(node: str) -> None:
            below = self._leaves[node]
            if below <= wanted:
                found.append(node)
            elif below & wanted:
                for child in self.children[node]:
                    visit(child)

        if wanted:
            visit(self.root)
        return tuple(found)

    def render(self) -> str:
        """The tree drawn with box characters, each node followed by its aliases."""
        aliases_of: dict[str, list[str]] = {}
        for alias, target in self.aliases.items():
            aliases_of.setdefault(target, []).append(alias)
        lines: list[str] = []

        def draw(node: str, prefix: str, connector: str, child_prefix: str) -> None:
            extra = aliases_of.get(node)
            suffix = f"  (also: {', '.join(extra)})" if extra else ""
            lines.append(f"{prefix}{connector}{node}{suffix}")
            kids = self.children[node]
            for index, child in enumerate(kids):
                last = index == len(kids) - 1
                draw(
                    child,
                    prefix + child_prefix,
                    "└── " if last else "├── ",
                    "    " if last else "│   ",
                )

        draw(self.root, "", "", "")
        return "\n".join(lines)


def _load() -> RightsTree:
    text = resources.files("ledger.data").joinpath("rights.json").read_text("utf-8")
    return RightsTree.from_data(json.loads(text))


RIGHTS: RightsTree = _load()
ALL_LEAVES: frozenset[str] = RIGHTS.all_leaves


def parse_rights(text: str | Sequence[str], tree: RightsTree = RIGHTS) -> frozenset[str]:
    """The leaf set for `svod`, `svod,avod`, `svod;pay-tv`, `distribution` or a list of those."""
    parts = [text] if isinstance(text, str) else list(text)
    names = [name for part in parts for name in re.split(r"[,;]", part) if name.strip()]
    if not names:
        raise BadInput("no rights given")
    return frozenset().union(*(tree.leaves_of(name) for name in names))
