"""The uvicorn server of ``spotify-assets serve``, bounded against slow and greedy clients.

What uvicorn bounds, set here: an idle kept-alive connection closes after
``timeout_keep_alive``; a request's head is at most ``h11_max_incomplete_event_size`` bytes (a
400 past it), with the h11 protocol only (httptools, uvicorn's choice where installed, has no
such bound); past ``limit_concurrency`` connections or requests at once, a request gets a 503.

What uvicorn does not bound: how long a client takes to send its request. One that sends a
byte now and then (slowloris), or nothing at all, holds its connection for ever.
:class:`RequestTimeoutProtocol` adds that bound.
"""

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

KEEP_ALIVE_SECONDS = 5
REQUEST_SECONDS = 10
MAX_REQUEST_HEAD_BYTES = 16 * 1024
# Connections and requests at once: a page view opens a few, and the reads of each request are
# bounded (a page of a view, a page of entries), so this bounds the server's memory.
MAX_CONCURRENCY = 500


class RequestTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection that has not sent a whole request within
    ``request_timeout`` seconds of opening, or of the answer to its previous request."""

    request_timeout: float = REQUEST_SECONDS
    _request_timer = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._time_the_request()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._time_the_request()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._time_the_request()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._request_timer is not None:
            self._request_timer.cancel()
        super().connection_lost(exc)

    def _time_the_request(self) -> None:
        # The clock runs while the client owes a request (its head, or a body it announced) and
        # is not reset by each byte that comes in.
        owed = self.conn.their_state in (h11.IDLE, h11.SEND_BODY)
        if owed and self._request_timer is None:
            self._request_timer = self.loop.call_later(self.request_timeout, self.transport.close)
        elif not owed and self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None


def server_config(app, host: str, port: int, **options) -> uvicorn.Config:
    """uvicorn's configuration for ``app`` on ``host:port`` with the bounds above; ``options``
    are uvicorn's others (``log_level``, ``loop``...)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=RequestTimeoutProtocol,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES,
        limit_concurrency=MAX_CONCURRENCY,
        **options,
    )
