from dealer.stock import CarQuery, build_query, match_make, match_model, search


def test_matching_makes_and_models(dealer):
    assert match_make(dealer, "volkswagon") == "Volkswagen"
    assert match_make(dealer, "vw") == "Volkswagen"
    assert match_model(dealer, "golf") == ("Volkswagen", "Golf")
    assert match_model(dealer, "id3") == ("Volkswagen", "ID.3")
    assert match_model(dealer, "tesla model 3") == ("Tesla", "Model 3")
    assert match_model(dealer, "911") is None


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
