"""Endpoints: the URL, headers and dialect for OpenAI, Azure (GA and preview), the local server, or any URL.

Resolution order (:func:`resolve`): an explicit ``endpoint=`` first; else ``OPENAI_API_KEY`` (OpenAI); else
Azure settings from the environment; else ``None``: nothing names an endpoint, and a Session then asks its
endpoint factory (by default the local server; see ``rtwidget.session.endpoint_policy``).

Headers carry the API key. They never appear in a repr, a log line or anything sent to the browser:
use :meth:`Endpoint.describe` for display, and :func:`redact` for any text that may hold a secret (an exception
message, a log line). Every endpoint made here registers its secrets (:func:`secrets_of`) so that :func:`redact`
also removes them by value, wherever they turn up.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from .protocol.session_config import DEFAULT_MODEL

EndpointKind = Literal["openai", "azure", "local", "custom"]

OPENAI_URL = "wss://api.openai.com/v1/realtime"
# Azure environment variables, in the names the openai SDK and Microsoft's samples use.
AZURE_ENDPOINT_VARS = ("AZURE_OPENAI_ENDPOINT",)
AZURE_KEY_VARS = ("AZURE_OPENAI_API_KEY",)
AZURE_DEPLOYMENT_VARS = ("AZURE_OPENAI_REALTIME_DEPLOYMENT", "AZURE_OPENAI_DEPLOYMENT")
AZURE_VERSION_VARS = ("AZURE_OPENAI_API_VERSION", "OPENAI_API_VERSION")
BETA_HEADER = {"OpenAI-Beta": "realtime=v1"}

REDACTED = "<redacted>"
# Headers whose value is a credential (compared lowercased): redacted by name in any text.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "api-key", "x-api-key", "openai-api-key", "cookie", "set-cookie"}
)
# URL query parameters whose value is a credential: Azure's api-key, generic keys and tokens, SAS signatures.
SECRET_QUERY_KEYS = frozenset(
    {
        "api-key",
        "api_key",
        "apikey",
        "key",
        "token",
        "access_token",
        "auth",
        "sig",
        "signature",
        "secret",
        "client_secret",
        "password",
    }
)
# Headers known to carry nothing secret (lowercased); every other header's value is registered as a secret
# (a custom endpoint's headers are usually its auth, whatever their name).
PUBLIC_HEADERS = frozenset({"openai-beta", "user-agent", "content-type", "accept"})
# The browser subprotocol that carries a key (``Sec-WebSocket-Protocol: realtime, openai-insecure-api-key.<key>``).
KEY_SUBPROTOCOL_PREFIX = "openai-insecure-api-key."
# A value shorter than this is not registered for by-value redaction (it would blank ordinary words).
MIN_SECRET_CHARS = 6
MAX_REGISTERED_SECRETS = 64


@dataclass(frozen=True)
class Endpoint:
    """Where to connect: ``url``, ``headers`` (secret), ``kind``, ``dialect`` and a display ``label``."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    kind: EndpointKind = "custom"
    dialect: Literal["ga", "beta"] = "ga"
    label: str = ""

    def __post_init__(self) -> None:
        register_secrets(secrets_of(self))

    def describe(self) -> dict[str, str]:
        """What is safe to show: kind, label, dialect, and the URL without its query string."""
        parts = urlsplit(self.url)
        return {
            "kind": self.kind,
            "label": self.label or self.kind,
            "dialect": self.dialect,
            "url": f"{parts.scheme}://{_public_netloc(self.url)}{parts.path}",
        }

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}: <hidden>" for k in self.headers)
        return f"Endpoint({self.kind}, {self.describe()['url']!r}, dialect={self.dialect!r}, headers={{{shown}}})"


def _public_netloc(url: str) -> str:
    """Host and port of ``url``, without the ``user:password@`` a URL may carry (it can hold a key)."""
    return urlsplit(url).netloc.rpartition("@")[2]


_names = "|".join(re.escape(n) for n in sorted(SECRET_HEADERS | SECRET_QUERY_KEYS, key=len, reverse=True))
# name: value / 'name': 'value' / name=value (a header line, a dict repr, a query or form field). Nothing after
# "name= " (with a space) is a value: prose such as "pass api_key= / endpoint=" is left alone.
_NAMED = re.compile(
    rf"(?P<name>(?<![\w-])[\"']?(?:{_names})[\"']?(?:\s*:\s*|\s*=))"
    rf"(?P<q>[\"']?)(?P<value>(?:(?:Bearer|Basic|Token)\s+)?[^\s\"'&#,;}}\])]+)",
    re.IGNORECASE,
)
_SUBPROTOCOL_KEY = re.compile(rf"(?P<prefix>{re.escape(KEY_SUBPROTOCOL_PREFIX)})[^\s,'\"]+", re.IGNORECASE)
_BEARER = re.compile(r"(?P<scheme>\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]{6,}", re.IGNORECASE)
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@\"'<>]+@")
# OpenAI key shapes (sk-..., sk-proj-...), wherever they appear, and the masked form of OpenAI's 401 message
# ("Incorrect API key provided: sk-proj-****...wxyz": still a part of a key).
_OPENAI_KEY = re.compile(r"\bsk-[A-Za-z0-9_*-]{8,}")
_known_lock = threading.Lock()
_known: dict[str, None] = {}  # insertion-ordered set, bounded: the oldest forgotten first


def register_secrets(values: Iterable[str]) -> None:
    """Remember secret values so :func:`redact` removes them by value too (short values are ignored)."""
    with _known_lock:
        for value in values:
            if len(value) >= MIN_SECRET_CHARS:
                _known.pop(value, None)
                _known[value] = None
        while len(_known) > MAX_REGISTERED_SECRETS:
            del _known[next(iter(_known))]


def secrets_of(endpoint: Endpoint) -> set[str]:
    """The credentials ``endpoint`` carries: header values but public ones (and bare tokens), query secrets,
    the URL's password."""
    found: set[str] = set()
    for name, value in endpoint.headers.items():
        if name.lower() not in PUBLIC_HEADERS and value:
            found.update({value, value.split(" ", 1)[-1]})
    parts = urlsplit(endpoint.url)
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name.lower() in SECRET_QUERY_KEYS and value:
            found.update({value, quote(value, safe="")})
    if parts.password:
        found.update({parts.password, unquote(parts.password)})
    return found


def redact(text: str) -> str:
    """``text`` with every credential replaced by ``<redacted>``: registered secret values, secret headers
    (``Authorization``, ``api-key``, ...), query secrets (``api-key=``, ``token=``, ``sig=``, ...), a URL's
    ``user:password@``, bearer tokens, the key subprotocol and OpenAI-shaped keys. For exception messages and log
    lines."""
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, REDACTED)
    text = _USERINFO.sub(rf"\g<scheme>{REDACTED}@", text)
    text = _NAMED.sub(lambda m: m["name"] + m["q"] + REDACTED if m["value"] != REDACTED else m[0], text)
    text = _BEARER.sub(rf"\g<scheme>{REDACTED}", text)
    text = _SUBPROTOCOL_KEY.sub(rf"\g<prefix>{REDACTED}", text)
    return _OPENAI_KEY.sub(REDACTED, text)


def openai(model: str, api_key: str, *, url: str = OPENAI_URL, beta: bool = False) -> Endpoint:
    """OpenAI's Realtime API (GA unless ``beta=True``, which OpenAI now refuses)."""
    headers = {"Authorization": f"Bearer {api_key}"}
    if beta:
        headers.update(BETA_HEADER)
    return Endpoint(f"{url}?{urlencode({'model': model})}", headers, "openai", "beta" if beta else "ga", "OpenAI")


def azure(
    endpoint: str,
    deployment: str,
    *,
    api_key: str | None = None,
    token: str | None = None,
    api_version: str | None = None,
) -> Endpoint:
    """Azure OpenAI: GA ``/openai/v1/realtime?model=`` or, with ``api_version``, preview ``/openai/realtime``.

    Auth is the ``api-key`` header, or ``Authorization: Bearer <Entra token>``. The preview shape speaks beta.
    """
    if not api_key and not token:
        raise ValueError("Azure needs api_key= (or AZURE_OPENAI_API_KEY) or an Entra token=")
    parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    host = parts.netloc
    headers = {"api-key": api_key} if api_key else {"Authorization": f"Bearer {token}"}
    label = f"Azure ({host.split('.')[0]})"
    if api_version:
        query = urlencode({"api-version": api_version, "deployment": deployment})
        return Endpoint(f"wss://{host}/openai/realtime?{query}", {**headers, **BETA_HEADER}, "azure", "beta", label)
    return Endpoint(
        f"wss://{host}/openai/v1/realtime?{urlencode({'model': deployment})}", headers, "azure", "ga", label
    )


def local(url: str, *, dialect: Literal["ga", "beta"] = "ga", model: str = DEFAULT_MODEL) -> Endpoint:
    """rtwidget's local Realtime server (no key)."""
    sep = "&" if "?" in url else "?"
    return Endpoint(f"{url}{sep}{urlencode({'model': model})}", {}, "local", dialect, "local")


def custom(url: str, headers: Mapping[str, str] | None = None, *, dialect: Literal["ga", "beta"] = "ga") -> Endpoint:
    """Any server that speaks the protocol, with your own headers."""
    if not url.startswith(("ws://", "wss://")):
        raise ValueError(f"endpoint URL must start with ws:// or wss://, got {url!r}")
    return Endpoint(url, dict(headers or {}), "custom", dialect, _public_netloc(url))


def _first(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        if env.get(name):
            return env[name]
    return None


def resolve(
    endpoint: Endpoint | str | None = None,
    *,
    model: str = DEFAULT_MODEL,
    api_key: str | None = None,
    dialect: str | None = None,
    headers: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Endpoint | None:
    """Pick the endpoint: explicit, then ``api_key`` / ``OPENAI_API_KEY``, then Azure from the environment, else
    None (the caller decides: a Session asks its endpoint factory)."""
    env = os.environ if env is None else env
    beta = dialect == "beta"
    if isinstance(endpoint, Endpoint):
        return endpoint
    if isinstance(endpoint, str):
        all_headers = dict(headers or {})
        if api_key and "Authorization" not in all_headers:
            all_headers["Authorization"] = f"Bearer {api_key}"
        if beta:
            all_headers.update(BETA_HEADER)
        url = endpoint
        if "model=" not in url and "deployment=" not in url:
            url += ("&" if "?" in url else "?") + urlencode({"model": model})
        return custom(url, all_headers, dialect="beta" if beta else "ga")
    key = api_key or env.get("OPENAI_API_KEY")
    if key:
        return openai(model, key, beta=beta)
    azure_endpoint = _first(env, AZURE_ENDPOINT_VARS)
    azure_key = _first(env, AZURE_KEY_VARS)
    if azure_endpoint and azure_key:
        deployment = _first(env, AZURE_DEPLOYMENT_VARS) or model
        version = _first(env, AZURE_VERSION_VARS) if beta else None
        return azure(azure_endpoint, deployment, api_key=azure_key, api_version=version)
    return None
