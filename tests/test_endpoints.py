"""Endpoint resolution: explicit, OpenAI, Azure GA and preview, local; secrets never shown."""

from __future__ import annotations

import pytest

from rtwidget import endpoints


def test_explicit_url_with_headers_and_model() -> None:
    ep = endpoints.resolve("ws://127.0.0.1:9/v1/realtime", model="m1", headers={"X-Team": "a"}, env={})
    assert ep is not None and ep.kind == "custom" and ep.url.endswith("?model=m1")
    assert ep.headers == {"X-Team": "a"} and ep.dialect == "ga"


def test_explicit_url_keeps_its_own_model_and_adds_key_and_beta() -> None:
    ep = endpoints.resolve("wss://x.example/rt?model=mine", api_key="k", dialect="beta", env={})
    assert ep is not None and ep.url == "wss://x.example/rt?model=mine"
    assert ep.headers["Authorization"] == "Bearer k" and ep.headers["OpenAI-Beta"] == "realtime=v1"
    assert ep.dialect == "beta"


def test_endpoint_object_wins() -> None:
    given = endpoints.custom("ws://h/rt")
    assert endpoints.resolve(given, env={"OPENAI_API_KEY": "sk-x"}) is given


def test_openai_from_environment() -> None:
    ep = endpoints.resolve(model="gpt-realtime-2", env={"OPENAI_API_KEY": "sk-abc"})
    assert ep is not None and ep.kind == "openai"
    assert ep.url == "wss://api.openai.com/v1/realtime?model=gpt-realtime-2"
    assert ep.headers == {"Authorization": "Bearer sk-abc"}
    assert "sk-abc" not in repr(ep) and "sk-abc" not in str(ep.describe())


def test_api_key_argument_beats_environment() -> None:
    ep = endpoints.resolve(api_key="sk-arg", env={"OPENAI_API_KEY": "sk-env"})
    assert ep is not None and ep.headers["Authorization"] == "Bearer sk-arg"


def test_azure_ga_and_preview_shapes() -> None:
    env = {
        "AZURE_OPENAI_ENDPOINT": "https://myres.openai.azure.com/",
        "AZURE_OPENAI_API_KEY": "az-key",
        "AZURE_OPENAI_DEPLOYMENT": "rt-deploy",
        "AZURE_OPENAI_API_VERSION": "2025-04-01-preview",
    }
    ga = endpoints.resolve(env=env)
    assert ga is not None and ga.kind == "azure" and ga.dialect == "ga"
    assert ga.url == "wss://myres.openai.azure.com/openai/v1/realtime?model=rt-deploy"
    assert ga.headers == {"api-key": "az-key"} and ga.describe()["label"] == "Azure (myres)"
    preview = endpoints.resolve(env=env, dialect="beta")
    assert preview is not None and preview.dialect == "beta"
    assert preview.url == (
        "wss://myres.openai.azure.com/openai/realtime?api-version=2025-04-01-preview&deployment=rt-deploy"
    )
    assert preview.headers["OpenAI-Beta"] == "realtime=v1"


def test_azure_token_and_missing_auth() -> None:
    ep = endpoints.azure("myres.openai.azure.com", "d", token="entra")
    assert ep.headers == {"Authorization": "Bearer entra"}
    with pytest.raises(ValueError, match="api_key"):
        endpoints.azure("myres.openai.azure.com", "d")


def test_nothing_configured_means_local() -> None:
    assert endpoints.resolve(env={}) is None
    local = endpoints.local("ws://127.0.0.1:5/v1/realtime", model="gpt-realtime")
    assert local.kind == "local" and local.url.endswith("?model=gpt-realtime") and not local.headers


def test_custom_rejects_http_urls() -> None:
    with pytest.raises(ValueError, match="ws://"):
        endpoints.custom("http://example.com")


def test_a_key_in_the_urls_userinfo_is_never_shown() -> None:
    secret = "sk-" + "userinfo-SECRET"  # built at run time: no key-shaped literal in the repo
    ep = endpoints.resolve(f"wss://bob:{secret}@rt.example.com:8443/v1/realtime", env={})
    assert ep is not None and secret in ep.url  # the connection still has it
    shown = [repr(ep), ep.label, *ep.describe().values()]
    assert all(secret not in text and "bob" not in text for text in shown)
    assert ep.describe()["url"] == "wss://rt.example.com:8443/v1/realtime" and ep.label == "rt.example.com:8443"


def _sentinel(tag: str) -> str:
    return "sk-" + tag + "-" + "SENTINEL" * 2  # built at run time: no key-shaped literal in the repo


def test_a_key_in_the_url_query_is_never_shown() -> None:
    secret = _sentinel("query")
    for param in ("api-key", "api_key", "token", "sig", "access_token"):
        ep = endpoints.resolve(f"wss://rt.example.com/v1/realtime?{param}={secret}&model=m", env={})
        assert ep is not None and secret in ep.url  # the connection still has it
        shown = [repr(ep), str(ep), ep.label, *ep.describe().values(), endpoints.redact(ep.url)]
        assert all(secret not in text for text in shown), param
        assert endpoints.redact(ep.url) == f"wss://rt.example.com/v1/realtime?{param}=<redacted>&model=m"


def test_redact_removes_headers_queries_userinfo_and_registered_values() -> None:
    secret = _sentinel("redact")
    texts = {
        f"> Authorization: Bearer {secret}": "> Authorization: <redacted>",
        f"> api-key: {secret}": "> api-key: <redacted>",
        f"{{'api-key': '{secret}', 'OpenAI-Beta': 'realtime=v1'}}": (
            "{'api-key': '<redacted>', 'OpenAI-Beta': 'realtime=v1'}"
        ),
        f"wss://bob:{secret}@h:1/rt?model=m": "wss://<redacted>@h:1/rt?model=m",
        f"GET /rt?model=m&key={secret}&sig={secret}": "GET /rt?model=m&key=<redacted>&sig=<redacted>",
        f"the key is {secret}.": "the key is <redacted>.",  # its OpenAI shape
        f"> Sec-WebSocket-Protocol: realtime, openai-insecure-api-key.{secret}": (
            "> Sec-WebSocket-Protocol: realtime, openai-insecure-api-key.<redacted>"
        ),
        "> OpenAI-Beta: realtime=v1 model=gpt-realtime": "> OpenAI-Beta: realtime=v1 model=gpt-realtime",
    }
    for text, want in texts.items():
        assert endpoints.redact(text) == want
    # A registered value goes whatever its shape: an endpoint registers the secrets it carries.
    plain = "plain" + "Value" * 3
    ep = endpoints.custom("ws://h/rt", {"X-Api-Key": plain})
    assert plain in endpoints.secrets_of(ep)
    assert endpoints.redact(f"echoed: {plain}!") == "echoed: <redacted>!"
    endpoints.register_secrets(["abc"])  # too short to register: ordinary words stay
    assert endpoints.redact("abc") == "abc"


def test_secrets_of_every_kind_of_endpoint() -> None:
    key = _sentinel("kinds")
    assert key in endpoints.secrets_of(endpoints.openai("m", key))
    assert key in endpoints.secrets_of(endpoints.azure("r.openai.azure.com", "d", api_key=key))
    assert key in endpoints.secrets_of(endpoints.custom(f"ws://u:{key}@h/rt"))
    assert key in endpoints.secrets_of(endpoints.custom(f"ws://h/rt?api-key={key}"))
    assert key in endpoints.secrets_of(endpoints.custom("ws://h/rt", {"X-Custom-Auth": key}))  # any name
    assert endpoints.secrets_of(endpoints.custom("ws://h/rt", {"OpenAI-Beta": "realtime=v1"})) == set()


def test_redact_hides_bare_bearer_tokens_and_openais_masked_keys() -> None:
    secret = _sentinel("bare")
    token = "tok" + "SENTINEL" * 2  # not key-shaped: only the Bearer scheme gives it away
    assert endpoints.redact(f"sent Bearer {token} to h") == "sent Bearer <redacted> to h"
    assert endpoints.redact(f"ValueError: bad key {secret}") == "ValueError: bad key <redacted>"
    masked = "sk-proj-" + "*" * 20 + "wxyz"  # how OpenAI's 401 message quotes the key it refused
    assert endpoints.redact(f"Incorrect API key provided: {masked}.") == "Incorrect API key provided: <redacted>."
    assert endpoints.redact("sk-learn and risk-free") == "sk-learn and risk-free"  # too short, or not a key


def test_prose_naming_a_key_argument_is_not_redacted() -> None:
    notice = "For the real API set OPENAI_API_KEY (or pass api_key= / endpoint=)."
    assert endpoints.redact(notice) == notice
    assert "SENTINEL" not in endpoints.redact("Session(api_key=SENTINELKEY123, model='x')")
