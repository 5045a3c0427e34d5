"""Which endpoint a session talks to, decided once before it first connects.

In order: the ``endpoint=`` it was given (an :class:`~rtwidget.endpoints.Endpoint` or a URL); else what
:func:`rtwidget.endpoints.resolve` finds in the arguments and the environment (``api_key=``,
``OPENAI_API_KEY``, Azure settings); else its endpoint factory. The default factory,
:func:`local_server_endpoint`, is the only place where the session package reaches the local server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from .. import endpoints

logger = logging.getLogger("rtwidget.session")

# Called with the session's model when nothing else names an endpoint (in a worker thread: it may block).
EndpointFactory = Callable[[str], endpoints.Endpoint]


def local_server_endpoint(model: str) -> endpoints.Endpoint:
    """The default factory: the process-wide local server (started on first use), with a one-line notice."""
    from ..server import shared_server  # floor 3 beside us, imported lazily: most sessions never need it

    server = shared_server()
    # INFO, not WARNING: talking to the local server is a normal way to start, not a problem. A widget says it
    # in a calm info line (rtwidget.widget.bridge.NO_KEY_NOTICE); a script with logging configured sees this.
    logger.info(
        "rtwidget: no API key found, so this session talks to rtwidget's local server at %s. "
        "For the real API set OPENAI_API_KEY (or pass api_key= / endpoint=).",
        server.url,
    )
    return endpoints.local(server.url, model=model)


def choose_endpoint(
    endpoint: endpoints.Endpoint | str | None,
    *,
    model: str,
    api_key: str | None,
    dialect: str | None,
    headers: Mapping[str, str] | None,
    factory: EndpointFactory | None = None,
    env: Mapping[str, str] | None = None,
) -> endpoints.Endpoint:
    """The endpoint for a session: explicit, else from the arguments and environment, else ``factory(model)``.

    ``factory`` None means :func:`local_server_endpoint`. Blocking (the factory may start a server).
    """
    found = endpoints.resolve(endpoint, model=model, api_key=api_key, dialect=dialect, headers=headers, env=env)
    if found is not None:
        return found
    return (factory or local_server_endpoint)(model)


class EndpointChoice:
    """The inputs of :func:`choose_endpoint`, held by a session until its first connect decides the endpoint.

    Its repr never shows the API key or the headers, and once the endpoint is decided it forgets them (the
    Endpoint it returned keeps what the connection needs, hidden from reprs as well).
    """

    __slots__ = ("_args",)

    def __init__(
        self,
        endpoint: endpoints.Endpoint | str | None,
        *,
        model: str,
        api_key: str | None,
        dialect: str | None,
        headers: Mapping[str, str] | None,
        factory: EndpointFactory | None,
    ) -> None:
        self._args: dict[str, Any] | None = {
            "endpoint": endpoint,
            "model": model,
            "api_key": api_key,
            "dialect": dialect,
            "headers": headers,
            "factory": factory,
        }

    def __call__(self) -> endpoints.Endpoint:
        """Decide (blocking: the factory may start a server); afterwards the inputs are gone."""
        if self._args is None:
            raise RuntimeError("the endpoint was already decided")
        args = dict(self._args)
        decided = choose_endpoint(args.pop("endpoint"), **args)
        self._args = None
        return decided

    def __repr__(self) -> str:
        return f"<EndpointChoice {'decided' if self._args is None else 'pending'}>"
