"""Shopify's calculated query cost, as the fake store charges it (PLATFORMS.md S6.5).

Roughly Shopify's rules: a mutation costs 10; an object 1 and a scalar 0; a connection
2 + ``first`` × its node's cost (``pageInfo`` free); ``nodes(ids:)`` an object per id. The
bucket is charged the requested cost before the query runs and given back what the answer did
not use (fewer nodes than ``first``).
"""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
)

MAX_QUERY_COST = 1000  # Shopify refuses a single query that asks for more
MUTATION_COST = 10


def query_cost(
    document: DocumentNode, op: OperationDefinitionNode, variables: dict[str, Any]
) -> int:
    """Shopify's requested cost, roughly: a mutation 10; an object 1, a scalar 0, a connection
    2 + ``first`` × its node's cost (``pageInfo`` free)."""
    if op.operation == OperationType.MUTATION:
        return MUTATION_COST * len(op.selection_set.selections)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return _selection_cost(op.selection_set, variables, fragments)


def _selection_cost(
    selection_set: SelectionSetNode,
    variables: dict[str, Any],
    fragments: dict[str, FragmentDefinitionNode],
) -> int:
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, InlineFragmentNode):
            total += _selection_cost(selection.selection_set, variables, fragments)
        elif isinstance(selection, FragmentSpreadNode):
            spread = fragments[selection.name.value]
            total += _selection_cost(spread.selection_set, variables, fragments)
        elif isinstance(selection, FieldNode) and selection.selection_set is not None:
            name = selection.name.value
            children = _selection_cost(selection.selection_set, variables, fragments)
            if name == "pageInfo":
                continue
            ids = _list_argument(selection, "ids", variables)
            if ids is not None:  # nodes(ids:): an object per id asked for
                total += ids * (1 + children)
                continue
            if name in ("nodes", "edges", "node"):
                total += children  # the connection counts its nodes
                continue
            first = _argument(selection, "first", variables)
            total += 2 + first * children if first is not None else 1 + children
    return total


def _argument(node: FieldNode, name: str, variables: dict[str, Any]) -> int | None:
    for argument in node.arguments or ():
        if argument.name.value != name:
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            found = variables.get(value.name.value)
            return found if isinstance(found, int) else None
    return None


def _list_argument(node: FieldNode, name: str, variables: dict[str, Any]) -> int | None:
    """How many values a list argument holds (``nodes(ids: …)``), if the field has it."""
    for argument in node.arguments or ():
        if argument.name.value != name:
            continue
        value = argument.value
        if isinstance(value, ListValueNode):
            return len(value.values)
        if isinstance(value, VariableNode):
            found = variables.get(value.name.value)
            return len(found) if isinstance(found, list) else 1
    return None


def actual_cost(
    document: DocumentNode, op: OperationDefinitionNode, data: dict[str, Any] | None
) -> int:
    """The cost of what the query returned: like :func:`query_cost`, with the nodes a
    connection holds instead of its ``first``."""
    if op.operation == OperationType.MUTATION:
        return MUTATION_COST * len(op.selection_set.selections)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return _returned_cost(op.selection_set, data, fragments)


def _returned_cost(
    selection_set: SelectionSetNode, value: object, fragments: dict[str, FragmentDefinitionNode]
) -> int:
    if not isinstance(value, dict):
        return 0
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, InlineFragmentNode):
            total += _returned_cost(selection.selection_set, value, fragments)
        elif isinstance(selection, FragmentSpreadNode):
            spread = fragments[selection.name.value]
            total += _returned_cost(spread.selection_set, value, fragments)
        elif isinstance(selection, FieldNode) and selection.selection_set is not None:
            name = selection.name.value
            if name == "pageInfo":
                continue
            child = value.get(selection.alias.value if selection.alias else name)
            items = child if isinstance(child, list) else [child]
            inner = sum(_returned_cost(selection.selection_set, item, fragments) for item in items)
            if any(a.name.value == "ids" for a in selection.arguments or ()):
                total += sum(item is not None for item in items) + inner  # nodes(ids:)
            elif name in ("nodes", "edges", "node"):
                total += inner
            elif child is not None:
                has_first = any(a.name.value == "first" for a in selection.arguments or ())
                total += (2 if has_first else 1) + inner
    return total
