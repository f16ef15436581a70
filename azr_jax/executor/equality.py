"""Value equality for answer checking, on trusted plain data only, with every edge case a named rule.

Python's `==` makes choices a verifier should make on purpose: `1 == 1.0 == True`, `nan != nan`,
`(1,) != [1]`, `{1} == frozenset({1})`. `values_equal` never calls a method of a value it was given
(the values come from `codec.decode`, so they are exact builtin types anyway) and decides each of those
cases from `EqualityRules`. Sets and dict keys are matched by the same rules, so a NaN inside a set and a
float key within tolerance behave like everywhere else. The stdlib values the codec carries are type-strict:
a Counter equals only a Counter with the same counts (not a dict), an OrderedDict only an OrderedDict with the
same items in the same order, a defaultdict only one with the same factory and items, a namedtuple only one
with the same type name, fields and values, a range only a range of the same numbers (Python's range ==).
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict, defaultdict

from azr_jax.executor.codec import NamedTupleValue
from azr_jax.executor.config import EqualityRules

_NUMBER = (bool, int, float, complex)
_SEQUENCE = (list, tuple)
_SETS = (set, frozenset)
_MAPPINGS = (dict, Counter, defaultdict)  # order does not matter: as in Python


def _floats_equal(a: float, b: float, rules: EqualityRules) -> bool:
    if math.isnan(a) or math.isnan(b):
        return rules.nan_equals_nan and math.isnan(a) and math.isnan(b)
    if a == b:
        return rules.signed_zero_equal or a != 0.0 or math.copysign(1.0, a) == math.copysign(1.0, b)
    if math.isinf(a) or math.isinf(b):
        return False
    return math.isclose(a, b, rel_tol=rules.float_rel_tol, abs_tol=rules.float_abs_tol)


def _numbers_equal(a: object, b: object, rules: EqualityRules) -> bool:
    if (type(a) is bool) != (type(b) is bool) and not rules.bool_int_equal:
        return False
    if type(a) is bool and type(b) is bool:
        return a is b
    a = int(a) if type(a) is bool else a
    b = int(b) if type(b) is bool else b
    ta, tb = type(a), type(b)
    if ta is not tb and not rules.int_float_equal:
        return False
    if ta is int and tb is int:
        return a == b
    try:
        ca, cb = complex(a), complex(b)
    except OverflowError:  # an int beyond float range: only exact equality makes sense
        return a == b
    if (ta is complex) != (tb is complex) and ca.imag != cb.imag:
        return False
    return _floats_equal(ca.real, cb.real, rules) and _floats_equal(ca.imag, cb.imag, rules)


def _match_all(xs: list, ys: list, rules: EqualityRules) -> bool:
    """Unordered match: each x pairs with a distinct y. Quadratic, fine under the size caps."""
    if len(xs) != len(ys):
        return False
    unused = list(ys)
    for x in xs:
        for i, y in enumerate(unused):
            if values_equal(x, y, rules):
                del unused[i]
                break
        else:
            return False
    return True


def values_equal(a: object, b: object, rules: EqualityRules) -> bool:
    """Equality of two plain values under `rules`."""
    ta, tb = type(a), type(b)
    if ta in _NUMBER and tb in _NUMBER:
        return _numbers_equal(a, b, rules)
    if ta in _SEQUENCE and tb in _SEQUENCE:
        if ta is not tb and not rules.tuple_list_equal:
            return False
        return len(a) == len(b) and all(values_equal(x, y, rules) for x, y in zip(a, b))
    if ta in _SETS and tb in _SETS:
        if ta is not tb and not rules.set_frozenset_equal:
            return False
        return _match_all(list(a), list(b), rules)
    if ta in _MAPPINGS and tb in _MAPPINGS:
        if ta is not tb or (ta is defaultdict and a.default_factory is not b.default_factory):
            return False
        return _mappings_equal(a, b, rules)
    if ta is not tb:
        return False
    if ta is OrderedDict:
        return values_equal(list(a.items()), list(b.items()), rules)
    if ta is NamedTupleValue:
        return (a.name, a.fields) == (b.name, b.fields) and values_equal(a.values, b.values, rules)
    return a == b  # None, str, bytes, range: exact builtin types, no user method involved


def _mappings_equal(a: dict, b: dict, rules: EqualityRules) -> bool:
    if len(a) != len(b):
        return False
    pairs_b = list(b.items())
    for ka, va in a.items():
        match = next((i for i, (kb, _) in enumerate(pairs_b) if values_equal(ka, kb, rules)), None)
        if match is None or not values_equal(va, pairs_b.pop(match)[1], rules):
            return False
    return True
