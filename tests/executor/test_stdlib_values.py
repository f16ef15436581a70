"""Counter, defaultdict, OrderedDict, namedtuple and range are values (issue 21, item 7): represented, compared
type-strictly, and written back by a solver as Python prints them; what has no stable value stays refused."""

from collections import Counter, OrderedDict, defaultdict

import pytest

from azr_jax.executor import CheckJob, ValidateJob
from azr_jax.executor.codec import NamedTupleValue, decode, encode
from azr_jax.executor.config import EqualityRules
from azr_jax.executor.equality import values_equal
from azr_jax.executor.literals import canonical_repr, parse_literal

NT = "from collections import Counter, OrderedDict, defaultdict, namedtuple\n"
# (program returning the value for input 'abca', its canonical output, an equal answer, a same-items answer of
# another type, which must be judged wrong)
TABLE = {
    "Counter": (NT + "def f(s):\n    return Counter(s)", "Counter({'a': 2, 'b': 1, 'c': 1})",
                "Counter({'c': 1, 'b': 1, 'a': 2})", "{'a': 2, 'b': 1, 'c': 1}"),
    "empty_Counter": (NT + "def f(s):\n    return Counter()", "Counter()", " Counter( ) ", "{}"),
    "defaultdict": (NT + "def f(s):\n    d = defaultdict(list)\n    for i, c in enumerate(s):\n"
                    "        d[c].append(i)\n    return d", "defaultdict(list, {'a': [0, 3], 'b': [1], 'c': [2]})",
                    "defaultdict(list, {'b': [1], 'c': [2], 'a': [0, 3]})",
                    "defaultdict(set, {'a': [0, 3], 'b': [1], 'c': [2]})"),
    "OrderedDict": (NT + "def f(s):\n    d = OrderedDict((c, s.count(c)) for c in s)\n    d.move_to_end('a')\n"
                    "    return d", "OrderedDict([('b', 1), ('c', 1), ('a', 2)])",
                    "OrderedDict({'b': 1, 'c': 1, 'a': 2})", "OrderedDict([('a', 2), ('b', 1), ('c', 1)])"),
    "namedtuple": (NT + "P = namedtuple('P', 'first size')\ndef f(s):\n    return P(s[0], len(s))",
                   "P(first='a', size=4)", "P(first='a', size=4)", "('a', 4)"),
    "typing_NamedTuple": ("from typing import NamedTuple\nclass Span(NamedTuple):\n    lo: int\n    hi: int\n"
                          "def f(s):\n    return [Span(0, len(s))]", "[Span(lo=0, hi=4)]", "[Span(lo=0, hi=4)]",
                          "[Q(lo=0, hi=4)]"),
    "range": ("def f(s):\n    return range(0, len(s), 2)", "range(0, 4, 2)", "range(0, 3, 2)", "[0, 2]"),
    "nested": (NT + "def f(s):\n    return {'n': Counter(s).most_common(1), 'r': (range(2), Counter())}",
               "{'n': [('a', 2)], 'r': (range(0, 2), Counter())}", "{'r': (range(2), Counter()), 'n': [('a', 2)]}",
               "{'n': [('a', 2)], 'r': (range(0, 2), {})}"),
}
# A model's own class may say anything of itself: its value is built from its fields, never its __eq__/__repr__.
HOSTILE_NAMEDTUPLE = (NT + "Q = namedtuple('Q', 'x')\nQ.__eq__ = lambda a, b: True\nQ.__repr__ = lambda a: 'Q(x=0)'\n"
                      "def f(s):\n    return Q(len(s))")
HOSTILE_COUNTER = (NT + "class Fake(Counter):\n    def __eq__(self, other):\n        return True\n"
                   "    def __repr__(self):\n        return 'Counter()'\ndef f(s):\n    return Fake(s)")
NO_STABLE_VALUE = {
    "generator": "def f(s):\n    return (c for c in s)",
    "iterator": "def f(s):\n    return iter(s)",
    "lambda": "def f(s):\n    return lambda: s",
    "default_repr": "class A:\n    pass\ndef f(s):\n    return A()",
    "defaultdict_of_lambda": NT + "def f(s):\n    return defaultdict(lambda: 0, {'a': 1})",
    "map": "def f(s):\n    return map(str, s)",
}
RULES = EqualityRules()


@pytest.mark.parametrize("name", sorted(TABLE))
def test_value_reads_back_equal_and_type_strict(name):
    _, output, equal, other_type = TABLE[name]
    gold = parse_literal(output, 1000)
    assert canonical_repr(gold) == output
    assert values_equal(decode(encode(gold)), gold, RULES)
    assert values_equal(parse_literal(equal, 1000), gold, RULES)
    assert not values_equal(parse_literal(other_type, 1000), gold, RULES)


def test_equality_is_type_strict_across_the_family():
    items = {"a": 1}
    values = [Counter(items), dict(items), OrderedDict(items), defaultdict(int, items), defaultdict(None, items),
              NamedTupleValue("P", ("a",), (1,)), NamedTupleValue("Q", ("a",), (1,)), ("a", 1), range(1), [0]]
    for i, a in enumerate(values):
        for j, b in enumerate(values):
            assert values_equal(a, b, RULES) == (i == j), (a, b)


def test_answer_calls_are_data_only():
    for text in ("defaultdict(lambda: 0, {})", "defaultdict(print, {})", "Counter(a=1)", "Counter([1])",
                 "range(1.5)", "range(0, 1, 0)", "P(1, 2)", "OrderedDict([1])", "P(x=__import__)", "set(x=1)"):
        with pytest.raises(ValueError):
            parse_literal(text, 1000)


def test_proposals_returning_them_are_valid(service):
    names = sorted(TABLE)
    results = service.run_batch([ValidateJob("deduction", TABLE[n][0], ("'abca'",)) for n in names])
    assert {n: (r.status, r.output) for n, r in zip(names, results)} == {n: ("ok", TABLE[n][1]) for n in names}
    [hostile] = service.run_batch([ValidateJob("deduction", HOSTILE_NAMEDTUPLE, ("'abca'",))])
    assert (hostile.status, hostile.output) == ("ok", "Q(x=4)")


@pytest.mark.parametrize("name", sorted(NO_STABLE_VALUE))
def test_values_without_a_stable_repr_stay_refused(service, name):
    [r] = service.run_batch([ValidateJob("deduction", NO_STABLE_VALUE[name], ("'abca'",))])
    assert r.status == "unrepresentable"


def test_solvers_answer_them_type_strictly(service):
    jobs, want = [], []
    for name, (code, output, equal, other_type) in sorted(TABLE.items()):
        jobs += [CheckJob("deduction", code, answer=equal, input="'abca'"),
                 CheckJob("deduction", code, answer=other_type, gold_output=output),
                 CheckJob("abduction", code, answer="'abca'", gold_output=output),
                 CheckJob("abduction", code, answer="'abc'", gold_output=output)]
        # f('abc') gives the same value for these two (range(0, 3, 2) == range(0, 4, 2), as in Python)
        want += [True, False, True, name in ("empty_Counter", "range")]
    # Induction: an answer returning the same items in a plain dict is wrong; a hostile subclass too.
    jobs += [CheckJob("induction", TABLE["Counter"][0], answer_code="def f(s):\n    return dict(Counter(s))"
                      .replace("def", "from collections import Counter\ndef", 1), inputs=("'abca'",)),
             CheckJob("induction", TABLE["empty_Counter"][0], answer_code=HOSTILE_COUNTER, inputs=("'abca'",)),
             CheckJob("abduction", HOSTILE_COUNTER, answer="'ab'", gold_output="Counter({'a': 1, 'b': 1})")]
    want += [False, False, False]
    results = service.run_batch(jobs)
    wrong = [(j.task, j.answer or j.answer_code, r) for j, r, w in zip(jobs, results, want) if r.correct != w]
    assert not wrong


def test_a_dataclass_printed_like_a_namedtuple_is_still_judged_by_its_class(service):
    code = ("from dataclasses import dataclass\n@dataclass\nclass P:\n    x: int\n    y: int\n"
            "def f(a):\n    return P(a, a + 1)")
    [v] = service.run_batch([ValidateJob("deduction", code, ("1",))])
    assert (v.status, v.output) == ("ok", "P(x=1, y=2)")
    results = service.run_batch([CheckJob("deduction", code, answer=a, gold_output=v.output)
                                 for a in ("P(x=1, y=2)", "P(1, 2)", "P(2, 1)")] +
                                [CheckJob("abduction", code, answer=a, gold_output=v.output) for a in ("1", "2")])
    assert [r.correct for r in results] == [True, True, False, True, False]
