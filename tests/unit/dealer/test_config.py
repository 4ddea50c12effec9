import datetime as dt
import shutil
from pathlib import Path

import pytest

from dealer.config import DealerConfigError, all_dealers, get_dealer, load_dealer, load_dealers


def test_demo_dealer_is_complete(dealer):
    assert dealer.name == "Autohuis De Vries"
    assert 30 <= len(dealer.stock) <= 40
    assert {s.id for s in dealer.services} == {"apk", "maintenance", "tyres", "repair", "diagnosis"}
    assert dealer.financing["nl"] and dealer.financing["en"]


def test_several_locations_and_reload(tmp_path, monkeypatch):
    src = get_dealer("autohuis-demo")
    root = tmp_path / "dealers"
    shutil.copytree("data/dealers/autohuis-demo", root / "autohuis-demo")
    shutil.copytree("data/dealers/autohuis-demo", root / "autohuis-amersfoort")
    yml = root / "autohuis-amersfoort" / "dealer.yml"
    yml.write_text(yml.read_text().replace("id: autohuis-demo", "id: autohuis-amersfoort")
                   .replace(src.name, "Autohuis De Vries Amersfoort"))  # fmt: skip
    monkeypatch.setenv("DEALERBOT_DEALERS_DIR", str(root))
    assert set(all_dealers()) == {"autohuis-demo", "autohuis-amersfoort"}
    assert get_dealer("autohuis-amersfoort").name.endswith("Amersfoort")
    assert get_dealer("no-such-dealer").id in all_dealers()


def test_bad_dealer_file_gives_a_clear_error(tmp_path):
    folder = tmp_path / "broken"
    shutil.copytree("data/dealers/autohuis-demo", folder)
    yml = folder / "dealer.yml"
    yml.write_text(yml.read_text().replace('mon: ["07:30", "17:00"]', 'mon: ["17:00", "07:30"]'))
    with pytest.raises(DealerConfigError, match="closes before it opens"):
        load_dealer(folder)


def two_locations(tmp_path, monkeypatch, broken: str | None = None):
    """The demo dealer and a copy named autohuis-amersfoort, whose dealer.yml ``broken``
    replaces."""
    root = tmp_path / "dealers"
    shutil.copytree("data/dealers/autohuis-demo", root / "autohuis-demo")
    shutil.copytree("data/dealers/autohuis-demo", root / "autohuis-amersfoort")
    yml = root / "autohuis-amersfoort" / "dealer.yml"
    yml.write_text(yml.read_text().replace("id: autohuis-demo", "id: autohuis-amersfoort"))
    if broken is not None:
        yml.write_text(broken)
    monkeypatch.setenv("DEALERBOT_DEALERS_DIR", str(root))
    return root


def test_a_broken_location_is_reported_and_skipped(tmp_path, monkeypatch, caplog):
    demo = Path("data/dealers/autohuis-demo/dealer.yml").read_text()
    root = two_locations(tmp_path, monkeypatch, broken=demo.replace("id: autohuis-demo\n",
                                                                     "id: [autohuis\n"))  # fmt: skip
    assert set(all_dealers()) == {"autohuis-demo"}
    assert get_dealer("autohuis-amersfoort").id == "autohuis-demo"  # the default, not a crash
    files = load_dealers(root)
    [problem] = files.problems.values()
    # the parser notices the unclosed list on the next line
    assert "autohuis-amersfoort/dealer.yml:3:5: not valid YAML" in problem
    assert "dealer folder autohuis-amersfoort skipped" in caplog.text


def test_problems_name_the_line(tmp_path):
    folder = tmp_path / "autohuis-demo"
    shutil.copytree("data/dealers/autohuis-demo", folder)
    yml = folder / "dealer.yml"
    text = yml.read_text()
    line = next(n for n, row in enumerate(text.splitlines(), 1) if 'mon: ["07:30"' in row)
    yml.write_text(text.replace('mon: ["07:30", "17:00"]', 'mon: ["17:00", "07:30"]'))
    with pytest.raises(DealerConfigError, match=rf"dealer.yml:{line}: workshop.mon closes"):
        load_dealer(folder)
    yml.write_text(text.replace("timezone: Europe/Amsterdam", "timezone: Europe/Utrect"))
    with pytest.raises(DealerConfigError, match=r"dealer.yml:4: unknown time zone"):
        load_dealer(folder)
    yml.write_text(text.replace('"12-24"', '"13-24"'))
    with pytest.raises(DealerConfigError, match=r"dealer.yml:\d+: '13-24' is not a date"):
        load_dealer(folder)


def test_no_usable_location_names_every_problem(tmp_path, monkeypatch):
    root = two_locations(tmp_path, monkeypatch, broken="id: autohuis-amersfoort\n")
    (root / "autohuis-demo" / "dealer.yml").write_text("- not a mapping\n")
    with pytest.raises(DealerConfigError) as error:
        all_dealers()
    assert "missing 'departments'" in str(error.value) and "must be a mapping" in str(error.value)


def test_public_holidays_come_from_the_holidays_package_plus_the_dealers_own_days(dealer):
    assert dealer.holiday_country == "NL"
    closed = {c.date: c.name["nl"] for c in dealer.closed_days_from(dt.date(2030, 1, 1), 366)}
    # no date of 2030 is typed into dealer.yml: the package knows the public holidays ...
    assert closed[dt.date(2030, 4, 27)] == "Koningsdag"
    assert closed[dt.date(2030, 12, 25)] == "Eerste Kerstdag"
    assert "Hemelvaartsdag" in closed.values()
    # ... the dealer's own days come every year, and it opens on Good Friday (open_on)
    assert closed[dt.date(2030, 12, 24)] == "Kerstavond"
    assert closed[dt.date(2030, 5, 5)] == "Bevrijdingsdag"
    assert dt.date(2030, 4, 19) not in closed  # Good Friday 2030
    assert dealer.closed_on(dt.date(2030, 4, 23)) is None  # an ordinary Tuesday


def test_holiday_settings_are_checked(tmp_path):
    folder = tmp_path / "autohuis-demo"
    shutil.copytree("data/dealers/autohuis-demo", folder)
    yml = folder / "dealer.yml"
    text = yml.read_text()
    yml.write_text(text.replace("open_on: [Good Friday]", "open_on: [Goede Vrijdag]"))
    with pytest.raises(DealerConfigError, match="open_on names no holiday of NL: goede vrijdag"):
        load_dealer(folder)
    yml.write_text(text.replace("public_holidays: {country: NL, open_on: [Good Friday]}",
                                "public_holidays: XX"))  # fmt: skip
    with pytest.raises(DealerConfigError, match="no public holidays known for 'XX'"):
        load_dealer(folder)
    yml.write_text(text.replace("public_holidays: {country: NL, open_on: [Good Friday]}",
                                "public_holidays: none"))  # fmt: skip
    assert load_dealer(folder).closed_on(dt.date(2030, 12, 25)) is None


def test_match_service(dealer):
    assert dealer.match_service("kunnen jullie de remblokken vervangen").id == "repair"
    assert dealer.match_service("Motorlampje brandt").id == "diagnosis"
    assert dealer.match_service("") is None
    # Typos of a one-word alias, not of short words that happen to be close.
    assert dealer.match_service("maitnenance").id == "maintenance"
    assert dealer.match_service("onderhoudsbuert graag").id == "maintenance"
    assert dealer.match_service("reperatie").id == "repair"
    assert dealer.match_service("geen idee") is None


@pytest.mark.parametrize(
    ("words", "service"),
    [("APK-afspraak", "apk"), ("apk keuring", "apk"), ("Ik wil een APK-afspraak maken", "apk"),
     ("onderhoudsbeurtje", "maintenance"), ("winterbanden erop", "tyres"),
     ("remblokken vervangen", "repair"), ("['APK-afspraak', 'APK']", "apk"),
     ("a maintenance service", "maintenance")],
)  # fmt: skip
def test_match_service_reads_compounds_and_hyphens(dealer, words, service):
    assert dealer.match_service(words).id == service
