import datetime as dt

import pytest

from dealer.parsing import (
    InvalidDate,
    When,
    find_mileage,
    find_plates,
    normalize_email,
    normalize_phone,
    normalize_plate,
    parse_budget,
    parse_contact,
    parse_mileage,
    parse_when,
)


@pytest.mark.parametrize(
    ("raw", "plate"),
    [
        ("12-ABC-3", "12-ABC-3"),  # side code 7
        ("12abc3", "12-ABC-3"),
        ("ab-123-c", "AB-123-C"),  # 9
        ("AB123C", "AB-123-C"),
        ("1-KBB-23", "1-KBB-23"),  # 8
        ("XX-99-99", "XX-99-99"),  # 1
        ("99-99-XX", "99-99-XX"),  # 2
        ("99-XX-99", "99-XX-99"),  # 3
        ("XX-99-XX", "XX-99-XX"),  # 4
        ("XX-XX-99", "XX-XX-99"),  # 5
        ("99-XX-XX", "99-XX-XX"),  # 6
        ("X-999-XX", "X-999-XX"),  # 10
        ("XXX-99-X", "XXX-99-X"),  # 11
        ("X-99-XXX", "X-99-XXX"),  # 12
        ("9-XX-999", "9-XX-999"),  # 13
        ("999-XX-9", "999-XX-9"),  # 14
        (" gk 123 t ", "GK-123-T"),
    ],
)
def test_every_side_code_is_normalised(raw, plate):
    assert normalize_plate(raw) == plate


@pytest.mark.parametrize(
    "raw", ["", "hello", "12345", "ABCDEF", "1234567", "12-ABC", "ÄB-123-C", "<script>", "💥" * 6]
)
def test_invalid_plates_are_rejected(raw):
    assert normalize_plate(raw) is None


def test_plates_are_found_in_a_sentence():
    found = find_plates("mijn kenteken is 12abc3 en die andere is AB-12-CD")
    assert [p for _s, _e, p in found] == ["12-ABC-3", "AB-12-CD"]
    assert find_plates("ik wil een afspraak maken") == []


@pytest.mark.parametrize(
    ("text", "plates"),
    [("kenteken gz 123 k", ["GZ-123-K"]), ("kenteken: GX 123 T graag", ["GX-123-T"]),
     ("plate AB 12 CD please", ["AB-12-CD"]), ("ik rij op 12 km", []), ("om 10 uur", [])],
)  # fmt: skip
def test_a_plate_with_spaces_counts_after_a_word_for_it(text, plates):
    assert [p for _s, _e, p in find_plates(text)] == plates


def test_contact_details():
    assert normalize_phone("bel me op 06 12345678") == "+31612345678"
    assert normalize_phone("+32 470 12 34 56") == "+32470123456"
    assert normalize_email("mail: Jan.de.Vries@Example.NL") == "jan.de.vries@example.nl"
    assert parse_contact("06-12345678") == ("phone", "+31612345678")
    assert parse_contact("jan@example.nl") == ("email", "jan@example.nl")
    assert parse_contact("geen idee") is None
    assert parse_contact("'; DROP TABLE appointments; --") is None


@pytest.mark.parametrize(
    ("text", "phone"),
    [("07700 900123", "+447700900123"), ("my number is 07911 123456", "+447911123456"),
     ("0470 12 34 56", "+32470123456"), ("0151 23456789", "+4915123456789"),
     ("(030) 123 4567", "+31301234567"), ("+31 (0)6 12345678", "+31612345678"),
     ("0031 6 1234 5678", "+31612345678"), ("06 9876 5432", "+31698765432"),
     ("0601234567", "+31601234567")],
)  # fmt: skip
def test_phone_numbers_from_across_the_border_and_every_mobile_range(text, phone):
    assert normalize_phone(text) == phone


@pytest.mark.parametrize("text", ["061234567", "015 1234 5678", "0612 345", "06123456789"])
def test_a_mistyped_dutch_number_is_no_foreign_one(text):
    """Nine digits or a Dutch landline with one too many: no neighbour's mobile number."""
    assert normalize_phone(text) is None


@pytest.mark.parametrize(
    ("text", "km"),
    [("85000", 85000), ("ongeveer 85.000 km", 85000), ("85k", 85000), ("120 duizend", 120000),
     ("60,000 miles", 96561), ("0", 0)],
)  # fmt: skip
def test_mileage(text, km):
    assert parse_mileage(text) == km


def test_mileage_rejects_nonsense():
    assert parse_mileage("weet ik niet") is None
    assert parse_mileage("99999999") is None


def test_budget():
    assert parse_budget("20.000") == 20000
    assert parse_budget("25k") == 25000
    assert parse_budget("€ 15000") == 15000
    assert parse_budget("30") == 30000


MONDAY = dt.datetime(2026, 11, 23, 9, 0)


@pytest.mark.parametrize(
    ("text", "date", "time"),
    [
        ("morgen om 10 uur", dt.date(2026, 11, 24), dt.time(10)),
        ("volgende dinsdag", dt.date(2026, 11, 24), None),
        ("volgende week dinsdag 9u30", dt.date(2026, 12, 1), dt.time(9, 30)),
        ("next Friday 9am", dt.date(2026, 11, 27), dt.time(9)),
        ("tomorrow at 2pm", dt.date(2026, 11, 24), dt.time(14)),
        ("15/12", dt.date(2026, 12, 15), None),
        ("15-12 om 14:00", dt.date(2026, 12, 15), dt.time(14)),
        ("15 december om 11.00", dt.date(2026, 12, 15), dt.time(11)),
        ("december 15th at 3pm", dt.date(2026, 12, 15), dt.time(15)),
        ("half 11", None, dt.time(10, 30)),
        ("kwart voor 3", None, dt.time(14, 45)),
        ("om 3", None, dt.time(15)),
        ("10", None, dt.time(10)),
        ("2026-11-24T09:00", dt.date(2026, 11, 24), dt.time(9)),
        ("1/2", dt.date(2027, 2, 1), None),  # already past this year: next year
    ],
)
def test_when(text, date, time):
    when = parse_when(text, MONDAY)
    assert (when.date, when.time) == (date, time)


def test_part_of_day():
    when = parse_when("donderdagochtend", MONDAY)
    assert when.date == dt.date(2026, 11, 26) and when.part_of_day == "morning"


@pytest.mark.parametrize("text", ["30/2", "30 februari", "31-04", "15/13"])
def test_dates_that_do_not_exist(text):
    with pytest.raises(InvalidDate):
        parse_when(text, MONDAY)


@pytest.mark.parametrize(
    "text", ["", "😀😀😀", "do you have a golf", "<b>hi</b>", "x" * 5000, "'; drop table --"]
)
def test_no_moment_in_text(text):
    assert parse_when(text, MONDAY).empty


@pytest.mark.parametrize(
    ("text", "km"),
    [("ruim 142 duizend", 142000), ("zo'n 80.000", 80000), ("zo’n 80.000", 80000),
     ("honderdtwintigduizend", 120000), ("85k", 85000), ("1,2 ton", 120000),
     ("anderhalve ton", 150000), ("rond de 60 duizend km", 60000),
     ("tweeënveertigduizend kilometer", 42000), ("about a hundred and twenty thousand", 120000),
     ("hij staat op 142.350", 142350)],
)  # fmt: skip
def test_mileage_as_people_write_it(text, km):
    assert parse_mileage(text) == km


@pytest.mark.parametrize("text", ["2 jaar oud, 40000", "<b>1</b>", "weet ik niet", "tien of elf"])
def test_mileage_needs_one_number_and_few_words(text):
    assert parse_mileage(text) is None


def test_number_words():
    from dealer.parsing import number_from_words

    assert number_from_words("honderdtwintigduizend") == 120000
    assert number_from_words("tweehonderdvijftig") == 250
    assert number_from_words("eenentwintig") == 21
    assert number_from_words("twenty-five thousand") == 25000
    assert number_from_words("achterkant") is None
    assert number_from_words("en") is None


def test_mileage_with_number_words_is_found_in_a_sentence():
    text = "hij heeft honderdtwintigduizend km gereden"
    assert find_mileage(text) == [(10, 34, 120000)]


@pytest.mark.parametrize(
    ("text", "date", "time", "part", "until"),
    [
        ("komende donderdag", dt.date(2026, 11, 26), None, None, None),
        ("volgende week dinsdag", dt.date(2026, 12, 1), None, None, None),
        ("donderdagochtend", dt.date(2026, 11, 26), None, "morning", None),
        ("na het weekend", dt.date(2026, 11, 30), None, None, dt.date(2026, 12, 2)),
        ("overmorgen rond een uur of 10", dt.date(2026, 11, 25), dt.time(10), None, None),
        ("next week", dt.date(2026, 11, 30), None, None, dt.date(2026, 12, 6)),
        ("Thursday morning", dt.date(2026, 11, 26), None, "morning", None),
        ("sometime next Thursday", dt.date(2026, 11, 26), None, None, None),
        ("half tien", None, dt.time(9, 30), None, None),
        ("morgen om tien uur", dt.date(2026, 11, 24), dt.time(10), None, None),
        ("vrijdagmorgen 10 uur", dt.date(2026, 11, 27), dt.time(10), None, None),
        ("donderdagmorgen", dt.date(2026, 11, 26), None, "morning", None),
        ("vrijdagnamiddag", dt.date(2026, 11, 27), None, "afternoon", None),
        ("maandag rond 9en", dt.date(2026, 11, 30), dt.time(9), None, None),
        ("vrijdag tegen tienen", dt.date(2026, 11, 27), dt.time(10), None, None),
        ("dinsdag de 1e om 13u", dt.date(2026, 12, 1), dt.time(13), None, None),
        ("the 3rd at 10", dt.date(2026, 12, 3), dt.time(10), None, None),
        ("op de 31e", dt.date(2026, 12, 31), None, None, None),
        ("next Monday at half past eight", dt.date(2026, 11, 30), dt.time(8, 30), None, None),
        ("quarter past ten", None, dt.time(10, 15), None, None),
        ("tuesday quarter to twelve", dt.date(2026, 11, 24), dt.time(11, 45), None, None),
        ("at half eight", None, dt.time(8, 30), None, None),  # British; Dutch "half acht" 7:30
        ("half acht", None, dt.time(7, 30), None, None),
    ],
)
def test_when_as_people_write_it(text, date, time, part, until):
    assert parse_when(text, MONDAY) == When(date, time, part, until)


@pytest.mark.parametrize(
    ("text", "km"),
    [
        ("ik wil mijn auto inruilen, kenteken njv-24-p, 85.000 op de teller", 85000),
        ("i'd like to trade in my car plate 82-vsx-7 about 120 thousand on the clock", 120000),
        ("staat 142k op de klok", 142000),
        ("kilometerstand 142.000", 142000),
        ("km-stand: zo'n 60000", 60000),
        ("mileage is about 85k", 85000),
        ("hij heeft 90 duizend gelopen", 90000),
        ("wat is 3-srl-58 nog waard met 60000 gereden?", 60000),  # tuning seed 412
        ("it's a 2016 golf with 98k driven", 98000),
        ("kan mn auto morgen binnen? teller staat op ongeveer 120 duizend, groet Ahmed", 120000),
        ("what would you give me for 76-SDN-9? it has done 34500", 34500),
        ("LKR-36-Z needs brakes replaced Tuesday at ten, it has 85k on it", 85000),  # seed 413
        ("hij heeft 95.000 erop", 95000),
    ],
)
def test_mileage_named_by_the_words_around_it_is_found_in_a_sentence(text, km):
    assert [value for _start, _end, value in find_mileage(text)] == [km]


def test_a_number_without_mileage_words_is_not_a_mileage_in_a_sentence():
    assert find_mileage("proefrit om 10 uur, ik heb 2 kinderen") == []
    assert find_mileage("de auto kost 25.000 euro") == []
    assert find_mileage("it has 2 scratches on it") == []
