"""CSS selectors, cheaper than one XPath query per selector.

Most rule selectors are one compound: a tag, classes, an id, attributes
(``section.sidebar``, ``#comments``, ``[data-module='comment']``). ``Matcher`` checks a
list of them on each element of one walk of the page: the 25 ``[defaults]`` prune
selectors cost 1.5 ms of CPU a page that way, 3.6 ms as one XPath union and more as
parsel queries (AEB, bench/quality.py, issue 10). ``plan``/``select`` read a selector
whose last step names a tag (``div.the-article-credit p.author``) over the elements of
that tag only. Anything else (pseudo-classes, sibling combinators) goes through
cssselect's XPath, compiled once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cssselect
from lxml import etree
from lxml.html import HtmlElement
from parsel.csstranslator import css2xpath


@dataclass(frozen=True)
class Compound:
    """tag.class1.class2#id[attr=value]..."""

    tag: str | None
    classes: frozenset[str]
    id: str | None
    attributes: tuple[tuple[str, str | None], ...]  # (name, value or None for presence)

    def matches(self, element: HtmlElement) -> bool:
        if self.tag and element.tag != self.tag:
            return False
        if self.id and element.get("id") != self.id:
            return False
        if self.classes and not self.classes <= set((element.get("class") or "").split()):
            return False
        for name, value in self.attributes:
            actual = element.get(name)
            if actual is None or (value is not None and actual != value):
                return False
        return True


class Matcher:
    """Compounds indexed by their most telling key (id, then a class, then the tag, then an
    attribute name), so each element is checked only against the compounds it could match."""

    def __init__(self, compounds: list[Compound], xpath: etree.XPath | None):
        self.by_id: dict[str, list[Compound]] = {}
        self.by_class: dict[str, list[Compound]] = {}
        self.by_tag: dict[str, list[Compound]] = {}
        self.by_attribute: dict[str, list[Compound]] = {}
        for compound in compounds:
            if compound.id:
                self.by_id.setdefault(compound.id, []).append(compound)
            elif compound.classes:
                self.by_class.setdefault(min(compound.classes), []).append(compound)
            elif compound.tag:
                self.by_tag.setdefault(compound.tag, []).append(compound)
            else:
                self.by_attribute.setdefault(compound.attributes[0][0], []).append(compound)
        self.xpath = xpath

    def merge(self, root: HtmlElement, found: list[HtmlElement]) -> list[HtmlElement]:
        """Add to the matches of a walk (``matches`` on each element) those of the XPath part."""
        if self.xpath is not None:
            extra = [e for e in self.xpath(root) if isinstance(e, HtmlElement)]
            if extra:
                seen = set(found)
                found = found + [e for e in extra if e not in seen]
                position = {e: i for i, e in enumerate(root.iter())}
                found.sort(key=lambda e: position.get(e, -1))
        return found

    def matches(self, element: HtmlElement) -> bool:
        """One of the compound selectors matches the element (the XPath part aside)."""
        if not isinstance(element.tag, str):
            return False
        candidates = self.by_tag.get(element.tag, [])
        if self.by_id:
            candidates = candidates + self.by_id.get(element.get("id"), [])
        classes = element.get("class")
        if classes and self.by_class:
            for name in classes.split():
                candidates = candidates + self.by_class.get(name, [])
        for name, compounds in self.by_attribute.items():
            if element.get(name) is not None:
                candidates = candidates + compounds
        return any(c.matches(element) for c in candidates)


@lru_cache(maxsize=256)
def compile_selectors(selectors: tuple[str, ...]) -> Matcher:
    compounds, others = [], []
    for selector in selectors:
        compound = _compound(selector)
        if compound is None:
            others.append(css2xpath(selector))
        else:
            compounds.append(compound)
    return Matcher(compounds, etree.XPath(" | ".join(others)) if others else None)


def _compound(selector: str) -> Compound | None:
    try:
        parsed = cssselect.parse(selector)
    except cssselect.SelectorError:
        return None
    if len(parsed) != 1 or parsed[0].pseudo_element:
        return None
    return _compound_from(parsed[0].parsed_tree)


def _compound_from(node) -> Compound | None:  # noqa: ANN001 - a cssselect parse tree
    """tag.class#id[attr=value] as a Compound; None for combinators, pseudo-classes and the like."""
    classes, ids, attributes = set(), [], []
    while not isinstance(node, cssselect.parser.Element):
        if isinstance(node, cssselect.parser.Class):
            classes.add(node.class_name)
        elif isinstance(node, cssselect.parser.Hash):
            ids.append(node.id)
        elif isinstance(node, cssselect.parser.Attrib) and node.namespace is None and node.operator in ("exists", "="):
            attributes.append((node.attrib, None if node.operator == "exists" else node.value.value))
        else:
            return None  # combinators, pseudo-classes, ~= and friends: cssselect's XPath
        node = node.selector
    if len(ids) > 1:
        return None
    tag = None if node.element in (None, "*") else node.element.lower()
    return Compound(tag, frozenset(classes), ids[0] if ids else None, tuple(attributes))


# -- one page, many selectors ------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """A selector as compounds joined by combinators (" " or ">"), right-most last, with
    its pseudo-element: "text", "attr:<name>" or None (the element's whole text)."""

    steps: tuple[tuple[str, Compound], ...]  # (combinator to the previous step, compound)
    pseudo: str | None


@lru_cache(maxsize=2048)
def plan(selector: str) -> Plan | None:
    """The selector as a Plan, or None when it needs cssselect's XPath."""
    try:
        parsed = cssselect.parse(selector)
    except cssselect.SelectorError:
        return None
    if len(parsed) != 1:
        return None
    pseudo = parsed[0].pseudo_element
    if isinstance(pseudo, cssselect.parser.FunctionalPseudoElement) and pseudo.name == "attr" \
            and len(pseudo.arguments) == 1:
        pseudo = f"attr:{pseudo.arguments[0].value}"
    elif pseudo not in (None, "text"):
        return None
    steps: list[tuple[str, Compound]] = []
    node = parsed[0].parsed_tree
    while isinstance(node, cssselect.parser.CombinedSelector):
        if node.combinator not in (" ", ">"):
            return None
        compound = _compound_from(node.subselector)
        if compound is None:
            return None
        steps.insert(0, (node.combinator, compound))
        node = node.selector
    compound = _compound_from(node)
    if compound is None:
        return None
    steps.insert(0, ("", compound))
    return Plan(tuple(steps), pseudo)


def select(root: HtmlElement, selector_plan: Plan) -> list[HtmlElement]:
    """The elements under root the plan matches, in document order (its last step names a tag)."""
    *before, (combinator, last) = selector_plan.steps
    found = [e for e in root.iter(last.tag) if last.matches(e)]
    if before:
        found = [e for e in found if _has_ancestors(e, tuple(before), combinator)]
    return found


def _has_ancestors(element: HtmlElement, steps: tuple[tuple[str, Compound], ...], combinator: str) -> bool:
    """The element's ancestors match the steps before it (right to left), as CSS reads them."""
    *before, (previous_combinator, compound) = steps
    parent = element.getparent()
    candidates = [parent] if combinator == ">" else list(element.iterancestors())
    for ancestor in candidates:
        if ancestor is not None and compound.matches(ancestor):
            if not before or _has_ancestors(ancestor, tuple(before), previous_combinator):
                return True
    return False
