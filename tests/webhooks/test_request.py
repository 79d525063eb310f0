"""The call_interactive request: documented parameters, call variables, URL variables."""

from urllib.parse import parse_qsl, urlsplit

import pytest

from ivrflow.webhooks.request import BadWebhookUrl, CallFacts, build_request, expand_url

FACTS = CallFacts(
    call_id="40cd72dc-0001",
    caller_id_num="79991234567",
    caller_id_name="Test Caller",
    called_extension="000*071",
    called_number="071",
    call_api_id="api-7",
    called_extension_id=12,
    variables={"account": "a/b&c=d", "CallID": "forged", "lang": "ru"},
)

DOCUMENTED = [
    ("EventType", "call_interactive"),
    ("CallID", "40cd72dc-0001"),
    ("CallerIDNum", "79991234567"),
    ("CallerIDName", "Test Caller"),
    ("CalledExtension", "000*071"),
    ("CalledExtensionID", "12"),
    ("CallStatus", "ANSWER"),
    ("CallFlow", "IN"),
    ("CalledNumber", "071"),
    ("CallAPIID", "api-7"),
]


def test_get_sends_documented_parameters_then_variables_in_the_query() -> None:
    request = build_request("http://hooks.example/ivr?key=1", "GET", FACTS)
    parts = urlsplit(request.url)
    assert request.method == "GET" and request.body is None
    assert parse_qsl(parts.query) == [("key", "1"), *DOCUMENTED, ("account", "a/b&c=d"), ("lang", "ru")]
    assert "Content-Type" not in dict(request.headers)


def test_post_sends_the_same_parameters_form_encoded() -> None:
    request = build_request("https://hooks.example/ivr", "POST", FACTS)
    assert request.url == "https://hooks.example/ivr"
    assert dict(request.headers)["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.body is not None
    assert parse_qsl(request.body.decode()) == [*DOCUMENTED, ("account", "a/b&c=d"), ("lang", "ru")]


def test_the_form_is_encoded_as_browsers_encode_it() -> None:
    # `*` literal (WHATWG); space as `+`; the separators and everything else percent-encoded.
    facts = CallFacts(
        call_id="c", caller_id_num="1", caller_id_name="Anna Marie", called_extension="000*071", called_number="071",
        call_api_id="c", variables={"note": "a&b=c+d%e/é"},
    )
    query = urlsplit(build_request("http://h/", "GET", facts).url).query
    assert "CallerIDName=Anna+Marie&CalledExtension=000*071&" in query
    assert query.endswith("&note=a%26b%3Dc%2Bd%25e%2F%C3%A9")
    assert dict(parse_qsl(query))["note"] == "a&b=c+d%e/é"


def test_unknown_optional_parameters_are_left_out_and_internal_callers_get_theirs() -> None:
    outside = dict(parse_qsl(urlsplit(build_request("http://h/", "GET", FACTS).url).query))
    assert not {"CalledDID", "CallerExtension", "CallerExtensionID"} & outside.keys()
    internal = CallFacts(
        call_id="c", caller_id_num="101", caller_id_name="", called_extension="000*071", called_number="071",
        call_api_id="c", called_did="74950000000", caller_extension="000*101", caller_extension_id=5,
    )
    sent = dict(parse_qsl(urlsplit(build_request("http://h/", "GET", internal).url).query, keep_blank_values=True))
    assert (sent["CalledDID"], sent["CallerExtension"], sent["CallerExtensionID"]) == ("74950000000", "000*101", "5")


def test_a_variable_never_replaces_a_documented_parameter() -> None:
    sent = parse_qsl(urlsplit(build_request("http://h/", "GET", FACTS).url).query)
    assert [value for name, value in sent if name == "CallID"] == ["40cd72dc-0001"]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("http://h/$account/x", "http://h/a%2Fb%26c%3Dd/x"),
        ("http://h/x?acc=${account}&l=$lang", "http://h/x?acc=a%2Fb%26c%3Dd&l=ru"),
        ("http://h/$lang.xml", "http://h/ru.xml"),  # bare $name stops at the dot
        ("http://h/${lang}_x", "http://h/ru_x"),
        ("http://h/$missing-x", "http://h/-x"),  # unset: empty
        ("http://h/a$", "http://h/a$"),  # no name: kept
        ("http://h/p#frag", "http://h/p"),
    ],
)
def test_url_variables_are_replaced_by_url_encoded_values(template: str, expected: str) -> None:
    assert expand_url(template, {"account": "a/b&c=d", "lang": "ru"}) == expected


def test_documented_parameters_can_be_used_in_the_url() -> None:
    request = build_request("http://h/calls/$CallID?from=${CallerIDNum}", "POST", FACTS)
    assert request.url == "http://h/calls/40cd72dc-0001?from=79991234567"


@pytest.mark.parametrize("template", ["$base/x", "ftp://h/x", "http:///x"])
def test_a_url_that_is_not_http_with_a_host_is_refused(template: str) -> None:
    with pytest.raises(BadWebhookUrl):
        expand_url(template, {"base": "http://h"})
