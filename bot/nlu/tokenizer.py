"""ValueTokenizer: Rasa's whitespace tokens, with plates, phone numbers and e-mail addresses
featurized as what they are, not as their characters.

The count-vector featurizers read a token's lemma. An e-mail address is one token of 20-odd
characters, and its character n-grams outweighed the words around it: "test drive polo
saturday 11am" was ``book_test_drive`` 1.00, and the same with ", amy.clark@example.com" was
``inform`` 1.00, since the training data's e-mail addresses are nearly all bare answers. Here
such a token's lemma is a placeholder (``__email__``, ``__phone__``, ``__plate__``): the value
still says "a contact was given", and the intent comes from the other words. The token's text
and span are unchanged, so entity extraction reads the message as before.

The PatternExtractor later runs the same finders on the same text. Both together cost 0.02 ms
per message (``bench/tokenizer.py``); passing the spans from one component to the other through
the message would couple the two for no measurable gain.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message

from dealer.parsing import find_emails, find_phones, find_plates


def value_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, placeholder) for the e-mail addresses, plates and phone numbers in text."""
    return [
        *((start, end, "__email__") for start, end, _v in find_emails(text)),
        *((start, end, "__plate__") for start, end, _v in find_plates(text)),
        *((start, end, "__phone__") for start, end, _v in find_phones(text)),
    ]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class ValueTokenizer(WhitespaceTokenizer):
    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        tokens = super().tokenize(message, attribute)
        text = message.get(attribute) or ""
        spans = value_spans(text) if any(c.isdigit() or c == "@" for c in text) else []
        for token in tokens:
            for start, end, placeholder in spans:
                if token.start < end and token.end > start:  # any part of the value
                    token.lemma = placeholder
                    break
        return tokens
