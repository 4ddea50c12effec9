import shutil

import pytest

from dealer.config import DealerConfigError, all_dealers, get_dealer, load_dealer


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
