"""voice_helper's transcription matching."""

import pytest

from ivrflow.menu.model import VoiceHelperRoute
from ivrflow.engine.speech import alternatives, choose_route, normalise

ROUTES = (
    VoiceHelperRoute(to_option="1", transcription="оплат|счёт|bill"),
    VoiceHelperRoute(to_option="2", transcription="tech support|поддержк"),
    VoiceHelperRoute(to_option="3", transcription="support|оператор"),
    VoiceHelperRoute(to_option="9", transcription=" | "),
)


def test_normalisation_folds_case_yo_punctuation_and_width() -> None:
    assert normalise("  Счёт, ПОЖАЛУЙСТА!!  ") == ("счет", "пожалуйста")
    assert normalise("ＴＥＣＨ-support…") == ("tech", "support")
    assert alternatives("Tech Support| |ёлка") == (("tech", "support"), ("елка",))


@pytest.mark.parametrize(
    ("heard", "option"),
    [
        ("Я хочу оплатить", "1"),  # a fragment matches the start of a word
        ("мой СЧЕТ", "1"),  # ё in the rule, е in the transcription
        ("Technical support, please", "2"),  # every word of a phrase as the start of a word, in order
        ("нужна техническая поддержка", "2"),
        ("support", "3"),
        ("support for my bill", "1"),  # both 1 and 3 match: the first rule wins, not the first word
        ("оператора позовите", "3"),
    ],
)
def test_the_first_rule_with_a_matching_alternative_wins(heard: str, option: str) -> None:
    route = choose_route(heard, ROUTES)
    assert route is not None and route.to_option == option


@pytest.mark.parametrize("heard", ["", "   ", "passport", "support tech", "переоплата", "tech"])
def test_no_match(heard: str) -> None:
    # "port" inside "passport" is not the start of a word; a phrase's words must come in order
    assert choose_route(heard, ROUTES[:2] + (VoiceHelperRoute(to_option="4", transcription="port"),)) is None
