import pytest

from dealer.stock import (
    CarQuery,
    build_query,
    make_in_text,
    match_make,
    match_model,
    mileage_limit,
    model_of_make,
    price_limit,
    search,
    year_limit,
)


def test_matching_makes_and_models(dealer):
    assert match_make(dealer, "volkswagon") == "Volkswagen"
    assert match_make(dealer, "vw") == "Volkswagen"
    assert match_model(dealer, "golf") == ("Volkswagen", "Golf")
    assert match_model(dealer, "id3") == ("Volkswagen", "ID.3")
    assert match_model(dealer, "tesla model 3") == ("Tesla", "Model 3")
    assert match_model(dealer, "911") is None


def test_a_typo_in_a_model_is_matched_word_by_word_only_with_its_make(dealer):
    assert match_model(dealer, "skoda octvaia zaterdag") is None
    assert model_of_make(dealer, "skoda octvaia zaterdag", "Skoda") == ("Skoda", "Octavia")
    assert model_of_make(dealer, "de skoda super", "Skoda") == ("Skoda", "Superb")
    assert model_of_make(dealer, "een skoda graag", "Skoda") is None
    assert match_model(dealer, "een super auto") is None  # not a Superb without the make
    assert make_in_text(dealer, "proefrit in een skoda graag") == "Skoda"
    assert make_in_text(dealer, "proefrit graag") is None


def test_search_filters_and_sorts_by_price(dealer):
    cars, total = search(dealer, CarQuery(fuel="electric", max_price=40000))
    assert total == len([c for c in dealer.stock if c.fuel == "electric" and c.price_eur <= 40000])
    assert len(cars) <= 3 and [c.price_eur for c in cars] == sorted(c.price_eur for c in cars)
    assert all(c.fuel == "electric" for c in cars)


def test_query_from_entities_and_text(dealer):
    query = build_query(dealer, make="kia", fuel="elektrische", budget="30k",
                        text="hebben jullie een elektrische kia onder de 30k")  # fmt: skip
    assert query == CarQuery(make="Kia", model=None, fuel="electric", max_price=30000)
    used_suv = build_query(dealer, text="welke tweedehands suv's hebben jullie")
    assert (used_suv.condition, used_suv.body) == ("used", "suv")
    assert build_query(dealer, text="hallo").empty


def test_unknown_model_finds_nothing(dealer):
    query = build_query(dealer, make="Porsche", model="911", text="porsche 911")
    assert search(dealer, query) == ([], 0)


def test_every_filter_a_customer_states(dealer):
    q = build_query(dealer, text="show me only automatic SUVs")
    assert (q.body, q.gearbox) == ("suv", "automatic")
    q = build_query(dealer, text="een handgeschakelde occasion vanaf 2021 met minder dan 50.000 km")
    assert (q.gearbox, q.condition, q.min_year, q.max_km) == ("manual", "used", 2021, 50000)
    cars, total = search(dealer, q, limit=50)
    assert total == len(cars) > 0
    assert all(c.transmission == "manual" and c.year >= 2021 and c.mileage_km <= 50000
               for c in cars)  # fmt: skip
    q = build_query(dealer, text="Is the T-Roc an automatic?")
    assert (q.make, q.model, q.gearbox) == ("Volkswagen", "T-Roc", "automatic")
    assert search(dealer, q) == ([], 0)


@pytest.mark.parametrize(
    ("text", "price", "km", "year"),
    [("een elektrische auto onder de 35000 euro", 35000, None, None),
     ("under 30k", 30000, None, None), ("max € 25.000", 25000, None, None),
     ("budget of 20,000", 20000, None, None), ("iets tot 80.000 km", None, 80000, None),
     ("less than 60k km", None, 60000, None), ("tot 60 duizend kilometer", None, 60000, None),
     ("vanaf 2020", None, None, 2020), ("2019 or newer", None, None, 2019),
     ("a golf from 2020 for 20000 euro", 20000, None, 2020)],
)  # fmt: skip
def test_limits_in_words(text, price, km, year):
    assert (price_limit(text), mileage_limit(text), year_limit(text)) == (price, km, year)
