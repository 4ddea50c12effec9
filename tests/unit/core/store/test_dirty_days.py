"""The dirty-day rule (``models.dirty_days``): which cells a write of a conversation row puts out
of date. The recorder, the mapper events (repositories, the ORM oracle of the recorder tests)
and the erasure all call this one function."""

from core.store.models import CELL_INPUTS, CLEAN, Dirty, dirty_days, joined

D = "autohuis-demo"
ROW = {"dealer_id": D, "channel": "web", "language": "nl", "contact_key": "K", "day_key": "2026-11-17",
       "week_key": "2026-W47", "month_key": "2026-11", "is_test": False, "qualifies": True,
       "outcome": "self_served", "survey_offered_at": None, "first_response_bucket": 3,
       "csat": None, "ces": None, "nps": None, "customer_messages": 2}  # fmt: skip


def test_a_write_that_changes_no_cell_input_is_clean():
    assert dirty_days(ROW, dict(ROW)) == CLEAN
    assert dirty_days(ROW, {**ROW, "customer_messages": 9}) == CLEAN  # counts: no cell reads them


def test_a_changed_outcome_marks_its_day_and_the_contacts_later_days():
    assert dirty_days(ROW, {**ROW, "outcome": "appointment_booked"}) == Dirty(
        frozenset({("2026-11-17", D)}), frozenset({("K", D, "2026-11-17")})
    )


def test_every_cell_input_counts():
    for name in CELL_INPUTS:
        assert dirty_days(ROW, {**ROW, name: "other"}).days, name


def test_a_survey_score_marks_only_its_day():
    """A score does not make the contact new or returning anywhere else."""
    assert dirty_days(ROW, {**ROW, "csat": 4}) == Dirty(frozenset({("2026-11-17", D)}), frozenset())


def test_a_moved_day_marks_both_days_and_the_later_days_of_either():
    moved = {**ROW, "day_key": "2026-11-20", "dealer_id": "other"}
    days, since = dirty_days(ROW, moved)
    assert days == {("2026-11-17", D), ("2026-11-20", "other")}
    assert since == {("K", D, "2026-11-17"), ("K", "other", "2026-11-20")}


def test_insert_and_delete_mark_the_row_they_have():
    inserted, deleted = dirty_days(None, ROW), dirty_days(ROW, None)
    assert (
        inserted
        == deleted
        == Dirty(frozenset({("2026-11-17", D)}), frozenset({("K", D, "2026-11-17")}))
    )
    assert dirty_days(None, {**ROW, "day_key": None}) == CLEAN  # no period keys yet: no cell


def test_joined_results_are_the_union():
    a = dirty_days(ROW, {**ROW, "csat": 5})
    b = dirty_days(None, {**ROW, "contact_key": "L", "day_key": "2026-11-18"})
    assert joined([a, b]) == Dirty(a.days | b.days, a.since | b.since)
    assert joined([]) == CLEAN
