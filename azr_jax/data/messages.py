"""Induction messages for generated programs: a hint per family, chosen by the program's seed.

The hints describe a family's kind of computation without its constants, as an induction proposer's
message should ("a hint that helps without giving the code away").
"""

from __future__ import annotations

FAMILY_HINTS: dict[str, tuple[str, ...]] = {
    "arith": ("f does arithmetic on a number.", "The output is a number computed from the input number."),
    "branch": ("f tests the number and computes the result in one of two ways.",
               "Which formula f uses depends on a condition on the number."),
    "string_ops": ("f changes the string with slicing or string methods.", "The output is a changed string."),
    "list_map": ("f changes every number of the list in the same way.",
                 "Each output item is computed from the input item at the same place."),
    "list_filter": ("f keeps only some numbers of the list.", "Some items are dropped; the rest keep their order."),
    "list_reduce": ("f combines the numbers of the list into one value.", "The list becomes a single number."),
    "dict_count": ("f builds a dictionary from the input.", "The output maps keys found in the input to values."),
    "tuple_pair": ("f returns two numbers computed from its two arguments.", "The pair depends on both inputs."),
    "string_loop": ("f goes through the letters and replaces some of them.",
                    "Each letter is changed depending on whether it is one of a few letters."),
    "helper_call": ("f uses a small helper function.", "A helper is applied to the input or to its items."),
    "list_slice": ("f reorders or slices the list.", "The output holds items of the input in another order."),
    "filter_map": ("f keeps some numbers of the list and changes each one it keeps.",
                   "Some items are dropped and the others are transformed."),
}


def induction_message(family: str, seed: int) -> str:
    hints = FAMILY_HINTS[family]
    return hints[seed % len(hints)]
