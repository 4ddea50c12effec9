"""ValueTokenizer: values featurized as placeholders."""

from rasa.shared.nlu.training_data.message import Message

from bot.nlu.tokenizer import ValueTokenizer


def lemmas(text: str) -> list[str]:
    tokenizer = ValueTokenizer(ValueTokenizer.get_default_config())
    return [token.lemma for token in tokenizer.tokenize(Message(data={"text": text}), "text")]


def test_values_are_placeholders_and_the_words_stay():
    assert lemmas("test drive polo saturday 11am, amy.clark@example.com") == [
        "test", "drive", "polo", "saturday", "11am", "__email__"
    ]  # fmt: skip
    assert lemmas("kenteken GX-123-T, bel 06 12345678") == [
        "kenteken", "__plate__", "bel", "__phone__", "__phone__"
    ]  # fmt: skip


def test_the_spans_are_the_texts():
    tokenizer = ValueTokenizer(ValueTokenizer.get_default_config())
    text = "mail jan@voorbeeld.nl"
    (_mail, address) = tokenizer.tokenize(Message(data={"text": text}), "text")
    assert (address.text, text[address.start : address.end]) == ("jan@voorbeeld.nl",) * 2
