"""TCP_NODELAY on the Jupyter server's kernel websockets (for ``browser_latency.py --servers nodelay``).

jupyter_server writes kernel messages to the browser over a tornado websocket without TCP_NODELAY: a small
message written while an earlier one is still unacknowledged waits (Nagle), and the browser's delayed ACK makes
that wait up to ~40 ms. Tornado has ``WebSocketHandler.set_nodelay(True)`` for this; jupyter_server never calls it.

This module is a jupyter_server extension. Loaded, it replaces the server's kernel websocket connection class
(whatever it is: the stock ZMQ one, or a gateway's) with a subclass that sets TCP_NODELAY when a websocket
connects; nothing else changes. The benchmark enables it in its isolated config dir::

    {"ServerApp": {"jpserver_extensions": {"_nodelay": true}}}      # jupyter_server_config.json

(the same as ``jupyter lab --ServerApp.jpserver_extensions="{'_nodelay': True}"``); the module must be
importable by the server (the benchmark puts ``bench/`` on its ``PYTHONPATH``).
"""

from __future__ import annotations

from typing import Any


def nodelay_connection_class(base: type) -> type:
    """A subclass of the kernel websocket connection class `base` that sets TCP_NODELAY on connect."""

    class NoDelayKernelConnection(base):  # type: ignore[valid-type, misc]
        def connect(self) -> Any:
            handler = self.websocket_handler
            if handler is not None and getattr(handler, "ws_connection", None) is not None:
                handler.set_nodelay(True)
                handler.log.info("kernel websocket %s: TCP_NODELAY set", self.kernel_id)
            return super().connect()

    NoDelayKernelConnection.__qualname__ = f"NoDelay{base.__name__}"
    return NoDelayKernelConnection


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    settings = serverapp.web_app.settings
    base = settings.get("kernel_websocket_connection_class")
    if base is None:
        from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection

        base = ZMQChannelsWebsocketConnection
    settings["kernel_websocket_connection_class"] = nodelay_connection_class(base)
    serverapp.log.info("kernel websockets will set TCP_NODELAY (%s)", base.__name__)
