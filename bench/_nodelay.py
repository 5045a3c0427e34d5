"""TCP_NODELAY on the Jupyter server's kernel websockets (for ``browser_latency.py --servers nodelay``).

jupyter_server writes kernel messages to the browser over a tornado websocket without TCP_NODELAY: a small
message written while an earlier one is still unacknowledged waits (Nagle), and the browser's delayed ACK makes
that wait ~40 ms. Tornado has ``WebSocketHandler.set_nodelay(True)`` for this; jupyter_server never calls it.

This class is the stock connection with that one call added when the websocket opens. Enable it with the
server's own configurable (no monkey-patching)::

    jupyter lab --ServerApp.kernel_websocket_connection_class=_nodelay.NoDelayKernelConnection

or ``{"ServerApp": {"kernel_websocket_connection_class": "_nodelay.NoDelayKernelConnection"}}`` in a
``jupyter_server_config.json`` (what the benchmark writes into its isolated config dir). The module must be
importable by the server (the benchmark puts ``bench/`` on its ``PYTHONPATH``).
"""

from __future__ import annotations

from typing import Any

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection


class NoDelayKernelConnection(ZMQChannelsWebsocketConnection):  # type: ignore[misc]
    """``ZMQChannelsWebsocketConnection`` that sets TCP_NODELAY on its websocket when it connects."""

    def connect(self) -> Any:
        handler = self.websocket_handler
        if handler is not None and getattr(handler, "ws_connection", None) is not None:
            handler.set_nodelay(True)
            handler.log.info("kernel websocket %s: TCP_NODELAY set", self.kernel_id)
        return super().connect()
