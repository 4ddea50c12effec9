"""Reading survey answers typed or tapped by the customer (pure).

CSAT: "How satisfied are you with this conversation?" 1-5.
CES: "The dealer made it easy for me to get what I needed", 1 (strongly disagree) to 7
(strongly agree).
NPS: "How likely are you to recommend us?" 0-10 (only when the dealer asks it).
"""

from __future__ import annotations

import re

SCALES = {"csat": (1, 5), "ces": (1, 7), "nps": (0, 10)}

_WORDS = {
    "csat": {
        5: ("heel tevreden", "zeer tevreden", "erg tevreden", "super tevreden", "very satisfied",
            "extremely satisfied", "uitstekend", "excellent", "perfect", "fantastisch", "top"),
        4: ("tevreden", "satisfied", "goed", "good", "prima", "happy"),
        3: ("neutraal", "neutral", "gaat wel", "ok", "oke", "oké", "okay", "matig", "so-so"),
        2: ("ontevreden", "niet tevreden", "unsatisfied", "dissatisfied", "not satisfied",
            "slecht", "bad", "poor"),
        1: ("heel ontevreden", "zeer ontevreden", "erg ontevreden", "very dissatisfied",
            "very unsatisfied", "very bad", "heel slecht", "verschrikkelijk", "terrible", "awful"),
    },
    "ces": {
        7: ("heel makkelijk", "zeer makkelijk", "heel gemakkelijk", "erg makkelijk",
            "super makkelijk", "very easy", "super easy", "helemaal mee eens", "strongly agree",
            "totally agree"),
        6: ("makkelijk", "gemakkelijk", "easy", "mee eens", "agree", "eens"),
        5: ("best makkelijk", "vrij makkelijk", "redelijk makkelijk", "fairly easy",
            "somewhat agree", "enigszins mee eens", "beetje mee eens"),
        4: ("neutraal", "neutral", "niet mee eens en niet oneens", "neither"),
        3: ("niet zo makkelijk", "vrij lastig", "somewhat disagree", "enigszins oneens",
            "fairly difficult", "not so easy"),
        2: ("lastig", "moeilijk", "difficult", "hard", "oneens", "niet mee eens", "disagree",
            "not easy", "niet makkelijk"),
        1: ("heel moeilijk", "zeer moeilijk", "heel lastig", "very difficult", "very hard",
            "helemaal oneens", "helemaal niet mee eens", "strongly disagree"),
    },
}  # fmt: skip
# A base word with an intensifier before it is one step further out: "extremely happy" is 5,
# "totally agree" 7, "heel eenvoudig" 7, "very unhappy" 1 (the lists above name the common ones).
_INTENSIFIERS_TEXT = (
    "very really extremely totally completely fully super heel zeer erg echt helemaal dik uiterst "
    "enorm hartstikke kinderlijk volledig absolutely"
)
_INTENSIFIERS = _INTENSIFIERS_TEXT.split()
_BASE_WORDS = {
    "csat": {(4, 5): ("tevreden", "satisfied", "happy", "blij", "pleased", "content"),
             (2, 1): ("ontevreden", "dissatisfied", "unsatisfied", "unhappy")},
    "ces": {(6, 7): ("makkelijk", "gemakkelijk", "easy", "simple", "simpel", "eenvoudig", "eens",
                     "agree", "mee eens"),
            (2, 1): ("moeilijk", "lastig", "difficult", "hard", "oneens", "disagree")},
}  # fmt: skip
_MORE_WORDS = {
    "csat": {5: ("great", "super", "brilliant", "fantastic", "geweldig", "heel goed", "zeer goed",
                 "very good", "amazing", "awesome", "superb", "outstanding", "excellent service",
                 "loved it", "top notch", "very helpful", "helemaal top", "heel fijn",
                 "uitstekend geholpen", "super geholpen", "heel goed geholpen"),
             4: ("fine", "prima hoor", "mostly satisfied", "redelijk tevreden", "not bad",
                 "niet slecht", "helpful", "mostly happy", "reasonably satisfied", "pretty good",
                 "quite good", "fijn", "goed geholpen", "prima geholpen"),
             3: ("average", "mediocre", "meh", "could be better", "kon beter", "kan beter",
                 "redelijk", "somewhat satisfied", "so so"),
             2: ("not great", "niet zo goed", "niet best", "disappointing", "teleurstellend"),
             1: ("waardeloos", "useless", "rubbish", "horrible")},
    "ces": {6: ("not difficult", "niet moeilijk", "niet lastig", "makkelijk zat", "easy enough",
                "agreed", "straightforward", "smooth", "no problem", "yes", "ja", "klopt",
                "soepel", "vlot", "geen moeite", "zonder problemen", "duidelijk"),
            5: ("somewhat easy", "rather easy", "redelijk eenvoudig", "vrij eenvoudig",
                "mostly agree", "grotendeels mee eens"),
            7: ("absolutely", "no effort at all", "moeiteloos", "effortless", "easy peasy",
                "very straightforward", "hassle free", "totally", "definitely", "zeker",
                "absoluut", "zeker weten"),
            3: ("een beetje lastig", "bit difficult", "a bit hard", "beetje moeilijk")},
}  # fmt: skip
# "four out of five", "4 van de 5": the scale after the score is no second number.
_OUT_OF = re.compile(
    r"\s*(?:/|out of|uit|van de|van)\s*(?:\d{1,2}|five|seven|ten|vijf|zeven|tien)\b"
)


def _all_words() -> dict[str, dict[int, tuple[str, ...]]]:
    """``_WORDS`` with the base words, their intensified forms and ``_MORE_WORDS`` added."""
    words = {q: dict(scores) for q, scores in _WORDS.items()}
    for question, groups in _BASE_WORDS.items():
        for (plain, boosted), bases in groups.items():
            known = words[question].get(plain, ())
            words[question][plain] = known + tuple(b for b in bases if b not in known)
            words[question][boosted] = words[question].get(boosted, ()) + tuple(
                f"{i} {b}" for i in _INTENSIFIERS for b in bases
            )
    for question, more in _MORE_WORDS.items():
        for score, phrases in more.items():
            words[question][score] = words[question].get(score, ()) + phrases
    return words


_RATING_WORDS = _all_words()
# Words around a rating word that leave it the whole answer ("ik ben heel tevreden", "it was ok").
_FILLER_TEXT = (
    "ik ben was is het dit dat gesprek de chat heel erg zeer echt best wel gewoon hoor hele zo "
    "nou ja al met al in het algemeen eigenlijk toch "
    "i am i m im it was this the conversation chat very really quite pretty just so yes "
    "overall all in all well ging went thanks thank you thx bedankt dank je dankjewel u wel"
)
_FILLER = frozenset(_FILLER_TEXT.split())
# Words around one number that leave it the answer ("5 stars", "ik geef een 4", "a solid 4").
_CSAT_WORDS = frozenset(w for ps in _RATING_WORDS["csat"].values() for p in ps for w in p.split())
_AROUND_NUMBER_TEXT = (
    "stars star sterren ster punten punt points point marks cijfer score rating i'd would say "
    "zou zeggen geef give geven definitely zeker solid a an een dikke volle full"
)
_AROUND_NUMBER = _FILLER | frozenset(_AROUND_NUMBER_TEXT.split())
_NUMBER_WORDS = {
    "nul": 0, "zero": 0, "een": 1, "één": 1, "one": 1, "twee": 2, "two": 2, "drie": 3,
    "three": 3, "vier": 4, "four": 4, "vijf": 5, "five": 5, "zes": 6, "six": 6, "zeven": 7,
    "seven": 7, "acht": 8, "eight": 8, "negen": 9, "nine": 9, "tien": 10, "ten": 10,
}  # fmt: skip
_SCORE = re.compile(
    r"(?:score|cijfer|een|an?)?\s*(\d{1,2})(?:\s*(?:/|van de|van|out of|uit)\s*\d{1,2})?[.!]?"
)
# A comment made only of these words is no comment: "nee", "nee hoor, verder niet", "no thanks,
# that's all". Anything more is kept, a "nee" before it too ("nee, het duurde te lang").
_NO_COMMENT_TEXT = (
    "nee neen no nope nah niks niets nothing none geen opmerking opmerkingen comment comments "
    "hoor dank je u wel bedankt dankjewel dankuwel thanks thank you thx verder further else not "
    "niet really echt nvt n.v.t skip sla over overslaan - that's thats all dat was het is "
    "it ok oké oke okay hoeft hoef ik i've i have don't dont heb have to add toe te voegen "
    "more meer stop stoppen laat maar zitten"
)
_NO_COMMENT = frozenset(_NO_COMMENT_TEXT.split())


def parse_score(text: str, question: str) -> int | None:
    """The score in an answer like "4", "4/5", "4 van de 5", "vier" or "heel tevreden".

    Returns None when the answer is unclear or outside the question's scale.
    """
    low, high = SCALES[question]
    t = " ".join((text or "").lower().split())[:200]
    m = re.fullmatch(_SCORE, t)
    if m:
        value = int(m.group(1))
        return value if low <= value <= high else None
    if t.strip(".!") in _NUMBER_WORDS:
        value = _NUMBER_WORDS[t.strip(".!")]
        return value if low <= value <= high else None
    if (number := _one_number(t)) is not None:
        return number if low <= number <= high else None
    padded = f" {re.sub(r'[^a-zà-ÿ ]', ' ', t)} "
    candidates = [
        (len(phrase), score, phrase)
        for score, phrases in _RATING_WORDS.get(question, {}).items()
        for phrase in phrases
        if f" {phrase} " in padded
    ]
    if not candidates:
        return None
    _length, score, phrase = max(candidates)
    # A rating word counts only as the answer itself: "oké, ik wacht wel" is no CSAT 3.
    rest = set(padded.replace(f" {phrase} ", " ", 1).split())
    return score if rest <= _FILLER else None


def _one_number(text: str) -> int | None:
    """The number of an answer that holds one number among words that leave it the answer
    ("5 stars", "vier sterren", "I would say 4", "5 - great"), else None."""
    if re.search(r"[^\w\s'!.,:/-]", text):
        return None  # markup, emoji, questions
    tokens = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?|\d+", _OUT_OF.sub("", text))
    digits = [t for t in tokens if t.isdigit()]
    words = [t for t in tokens if t in _NUMBER_WORDS and t not in ("een", "één", "one")]
    numbers = digits or words
    if len(numbers) != 1 or (digits and words):
        return None
    rest = [t for t in tokens if t != numbers[0]]
    if not all(t in _AROUND_NUMBER or t in _CSAT_WORDS for t in rest):
        return None
    return int(numbers[0]) if numbers[0].isdigit() else _NUMBER_WORDS[numbers[0]]


def is_no_comment(text: str) -> bool:
    """The answer to "anything else you'd like to tell us?" says there is nothing."""
    words = re.findall(r"[^\s,!:;]+", (text or "").lower().replace("’", "'"))
    return all(w.strip(".") in _NO_COMMENT for w in words if w.strip("."))
