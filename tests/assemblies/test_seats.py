"""Delegate seats against published worked examples, and their invariants."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assemblies.seats import allocate

# The textbook example of the largest-remainder and highest-averages methods: six lists,
# 100,000 votes, 10 seats (Hare: 5 2 1 1 1 0; D'Hondt: 5 2 2 1 0 0; Sainte-Laguë: 4 2 2 1 1 0).
TEXTBOOK = [("A", 47000), ("B", 16000), ("C", 15800), ("D", 12000), ("E", 6100), ("F", 3100)]
# The classic four-party example, 8 seats (D'Hondt 4 3 1 0; Sainte-Laguë and Hare 3 3 1 1).
FOUR = [("A", 100000), ("B", 80000), ("C", 30000), ("D", 20000)]


@pytest.mark.parametrize(
    ("counts", "seats", "method", "expected"),
    [
        (TEXTBOOK, 10, "hare_niemeyer", [5, 2, 1, 1, 1, 0]),
        (TEXTBOOK, 10, "dhondt", [5, 2, 2, 1, 0, 0]),
        (TEXTBOOK, 10, "sainte_lague", [4, 2, 2, 1, 1, 0]),
        (FOUR, 8, "dhondt", [4, 3, 1, 0]),
        (FOUR, 8, "sainte_lague", [3, 3, 1, 1]),
        (FOUR, 8, "hare_niemeyer", [3, 3, 1, 1]),
    ],
)
def test_published_examples(counts, seats, method, expected):
    result = allocate(counts, seats, method, minimum=False)
    assert [seats for _name, _count, seats in result.rows()] == expected


def test_sainte_lague_reports_a_tie_for_the_last_seat():
    # With 6 seats the last quotient is 20,000 twice (A's third divisor, D's first).
    result = allocate(FOUR, 6, "sainte_lague", minimum=False)
    assert sorted(result.tied) == ["A", "D"]
    assert sum(result.allocation.values()) == 6
    assert allocate(FOUR, 8, "sainte_lague", minimum=False).tied == []


def test_a_basic_seat_each_then_the_rest_by_the_method():
    result = allocate(FOUR, 8, "dhondt", minimum=True)
    # One seat each, the other four by D'Hondt: A 100000, B 80000, A 50000, B 40000.
    assert [s for _n, _c, s in result.rows()] == [3, 3, 1, 1]
    with pytest.raises(ValueError, match="fewer seats"):
        allocate(FOUR, 3, "dhondt", minimum=True)


def test_steps_explain_every_seat():
    result = allocate(TEXTBOOK, 10, "dhondt", minimum=False)
    assert [step.seat for step in result.steps] == list(range(1, 11))
    assert [step.name for step in result.steps][:3] == ["A", "A", "B"]
    assert result.steps[1].value == 23500


@given(
    counts=st.lists(st.integers(min_value=0, max_value=50000), min_size=1, max_size=12),
    seats=st.integers(min_value=0, max_value=300),
    method=st.sampled_from(["sainte_lague", "hare_niemeyer", "dhondt"]),
    minimum=st.booleans(),
)
def test_every_seat_is_given_and_the_quota_is_kept(counts, seats, method, minimum):
    named = [(f"KV {i}", n) for i, n in enumerate(counts)]
    if minimum and seats < len(named):
        return
    result = allocate(named, seats, method, minimum=minimum)
    total = sum(counts)
    given = sum(result.allocation.values())
    assert given == (seats if total or minimum else 0) or (
        total == 0 and given == len(named) * minimum
    )
    if method == "hare_niemeyer" and total and not minimum:
        # Quota rule: never more than one seat away from the exact share.
        for _name, count, got in result.rows():
            assert abs(got - count * seats / total) < 1
    for _name, count, got in result.rows():
        if count == 0 and not minimum:
            assert got == 0


def test_a_tie_among_more_than_two_is_named_whole():
    equal = [("A", 100), ("B", 100), ("C", 100)]
    for method in ("dhondt", "sainte_lague", "hare_niemeyer"):
        result = allocate(equal, 2, method, minimum=False)
        assert sorted(result.tied) == ["A", "B", "C"], method
    assert allocate(equal, 3, "dhondt", minimum=False).tied == []
