"""Every equality edge case is a named rule; defaults follow config.EqualityRules."""

import dataclasses

import pytest

from azr_jax.executor.config import EqualityRules
from azr_jax.executor.equality import values_equal

R = EqualityRules()
NAN = float("nan")


@pytest.mark.parametrize("a,b,equal", [
    (1, 1, True), (1, True, False), (True, True, True), (1, 1.0, False), (0.1 + 0.2, 0.3, True),
    (1.0, 1.0 + 1e-6, False), (NAN, NAN, True), (NAN, 1.0, False), (0.0, -0.0, True), (float("inf"), 1e999, True),
    (float("inf"), -float("inf"), False), ((1, 2), [1, 2], False), ([1, [2]], [1, [2]], True),
    ({1, 2, 3}, {3, 2, 1}, True), ({1}, frozenset({1}), True), ({"a": 1, "b": 2}, {"b": 2, "a": 1}, True),
    ({"a": 1}, {"a": 1.0}, False), ({NAN}, {NAN}, True), ("a", b"a", False), (None, 0, False), (1j, 1j, True),
    (10**400, 10**400, True), (10**400, 1.0, False), ([1, 2], [2, 1], False), ({(1, 2): 3}, {(1, 2): 3}, True),
])
def test_default_rules(a, b, equal):
    assert values_equal(a, b, R) is equal
    assert values_equal(b, a, R) is equal


def test_rules_switch_each_case():
    loose = EqualityRules(bool_int_equal=True, int_float_equal=True, tuple_list_equal=True)
    assert values_equal(1, True, loose) and values_equal(1, 1.0, loose) and values_equal((1,), [1], loose)
    assert values_equal(True, 1.0, loose)
    assert not values_equal(10**400, 1e308, loose)
    strict = EqualityRules(float_rel_tol=0.0, nan_equals_nan=False, signed_zero_equal=False, set_frozenset_equal=False)
    assert not values_equal(NAN, NAN, strict)
    assert not values_equal(0.0, -0.0, strict)
    assert not values_equal({1}, frozenset({1}), strict)
    assert not values_equal(0.1 + 0.2, 0.3, strict)
    assert values_equal(1.0, 1.05, EqualityRules(float_abs_tol=0.1))


def test_rules_are_validated():
    with pytest.raises(ValueError, match="float_rel_tol"):
        EqualityRules(float_rel_tol=-1)
    assert dataclasses.is_dataclass(R) and dataclasses.fields(R)
