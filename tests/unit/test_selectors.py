"""Kubernetes label selectors (`sitekit.plan.selectors`) against the API server's rules (issue 15).

Each operator and each part of a selector is tested on its own, on both sides of its edge, and a
property test compares `selector_matches` with an evaluator written here from the Kubernetes documentation
(matchLabels AND every matchExpression; an absent or empty selector matches everything), so a requirement
that is skipped, inverted or read only for the first element of a list is caught.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitekit.plan.selectors import is_empty, selector_matches

KEYS = ["app", "tier", "team"]
VALUES = ["a", "b", "c"]


def expected(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """The API server's label-selector semantics, written independently of the product."""
    if selector is None:
        return True
    results: list[bool] = [labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], list(expr.get("values") or [])
        has = key in labels
        results.append(
            {
                "In": has and labels.get(key) in values,
                "NotIn": not has or labels.get(key) not in values,
                "Exists": has,
                "DoesNotExist": not has,
            }.get(op, False)
        )
    return all(results)


@pytest.mark.parametrize("selector", [None, {}, {"matchLabels": {}}, {"matchExpressions": []},
                                      {"matchLabels": None, "matchExpressions": None}])
def test_empty_selectors_match_everything_and_are_empty(selector: dict[str, Any] | None) -> None:
    assert selector_matches(selector, {}) is True
    assert selector_matches(selector, {"app": "a"}) is True
    assert is_empty(selector) is True


@pytest.mark.parametrize(
    "selector",
    [
        {"matchLabels": {"app": "a"}},
        {"matchExpressions": [{"key": "app", "operator": "Exists"}]},
        {"matchLabels": {}, "matchExpressions": [{"key": "app", "operator": "Exists"}]},
        {"matchLabels": {"app": "a"}, "matchExpressions": []},
    ],
)
def test_a_selector_with_any_requirement_is_not_empty(selector: dict[str, Any]) -> None:
    assert is_empty(selector) is False


def test_match_labels_needs_every_pair() -> None:
    sel = {"matchLabels": {"app": "a", "tier": "b"}}
    assert selector_matches(sel, {"app": "a", "tier": "b", "other": "x"}) is True
    assert selector_matches(sel, {"app": "a", "tier": "c"}) is False  # second pair differs
    assert selector_matches(sel, {"app": "x", "tier": "b"}) is False  # first pair differs
    assert selector_matches(sel, {"app": "a"}) is False  # second key missing
    assert selector_matches({"matchLabels": {"app": "a"}}, {}) is False


@pytest.mark.parametrize(
    ("labels", "result"),
    [({"app": "a"}, True), ({"app": "b"}, True), ({"app": "c"}, False), ({}, False), ({"tier": "a"}, False)],
)
def test_in(labels: dict[str, str], result: bool) -> None:
    assert selector_matches({"matchExpressions": [{"key": "app", "operator": "In", "values": ["a", "b"]}]},
                            labels) is result


@pytest.mark.parametrize(
    ("labels", "result"),
    [({"app": "a"}, False), ({"app": "b"}, False), ({"app": "c"}, True), ({}, True), ({"tier": "a"}, True)],
)
def test_not_in(labels: dict[str, str], result: bool) -> None:
    assert selector_matches({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["a", "b"]}]},
                            labels) is result


@pytest.mark.parametrize(("labels", "result"), [({"app": ""}, True), ({"app": "x"}, True), ({}, False),
                                                 ({"tier": "x"}, False)])
def test_exists(labels: dict[str, str], result: bool) -> None:
    assert selector_matches({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, labels) is result


@pytest.mark.parametrize(("labels", "result"), [({"app": ""}, False), ({"app": "x"}, False), ({}, True),
                                                 ({"tier": "x"}, True)])
def test_does_not_exist(labels: dict[str, str], result: bool) -> None:
    assert selector_matches({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, labels) is result


def test_in_without_values_matches_nothing_and_not_in_without_values_matches_everything() -> None:
    assert selector_matches({"matchExpressions": [{"key": "app", "operator": "In"}]}, {"app": "a"}) is False
    assert selector_matches({"matchExpressions": [{"key": "app", "operator": "NotIn"}]}, {"app": "a"}) is True


@pytest.mark.parametrize("op", ["in", "Equals", "", None])
def test_unknown_operator_matches_nothing(op: str | None) -> None:
    sel = {"matchExpressions": [{"key": "app", "operator": op, "values": ["a"]}]}
    assert selector_matches(sel, {"app": "a"}) is False
    assert selector_matches(sel, {}) is False


def test_every_expression_counts_not_only_the_first() -> None:
    sel = {
        "matchExpressions": [
            {"key": "app", "operator": "Exists"},
            {"key": "tier", "operator": "In", "values": ["b"]},
            {"key": "team", "operator": "DoesNotExist"},
        ]
    }
    assert selector_matches(sel, {"app": "a", "tier": "b"}) is True
    assert selector_matches(sel, {"app": "a", "tier": "c"}) is False
    assert selector_matches(sel, {"app": "a", "tier": "b", "team": "x"}) is False
    assert selector_matches(sel, {"tier": "b"}) is False


def test_match_labels_and_expressions_are_anded() -> None:
    sel = {"matchLabels": {"app": "a"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["b"]}]}
    assert selector_matches(sel, {"app": "a"}) is True
    assert selector_matches(sel, {"app": "a", "tier": "b"}) is False
    assert selector_matches(sel, {"app": "b"}) is False


expressions = st.fixed_dictionaries(
    {"key": st.sampled_from(KEYS), "operator": st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"])},
    optional={"values": st.lists(st.sampled_from(VALUES), max_size=3)},
)
selectors = st.none() | st.fixed_dictionaries(
    {},
    optional={
        "matchLabels": st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=3),
        "matchExpressions": st.lists(expressions, max_size=4),
    },
)
label_sets = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=3)


@given(selectors, label_sets)
@settings(max_examples=300, deadline=None)
def test_selector_matches_agrees_with_the_api_server_rules(selector: dict[str, Any] | None,
                                                           labels: dict[str, str]) -> None:
    assert selector_matches(selector, labels) is expected(selector, labels)
