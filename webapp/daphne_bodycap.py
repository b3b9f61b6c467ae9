"""The body-size cap of webapp/bodycap.py inside daphne, which receives a request's whole body
before it calls the application: twisted calls a request's gotLength once the headers are in,
handleContentChunk for each piece of body, and requestReceived (which starts the application)
once all of it is in."""
from __future__ import annotations

import io
import logging

from daphne import http_protocol

from .bodycap import answer_headers, limit_for, refusal_body, too_large

log = logging.getLogger(__name__)


def response(body: bytes) -> bytes:
    return (b"HTTP/1.1 413 Request Entity Too Large\r\n"
            + b"".join(n + b": " + v + b"\r\n" for n, v in answer_headers(body)) + b"\r\n" + body)

# how long a refused client may go on sending (read and dropped) before the connection closes: time
# to read the 413 rather than a reset, too short to hold connections
LINGER_SECONDS = 5.0


class CappedWebRequest(http_protocol.WebRequest):
    _refused = False
    _received = 0
    _limit = None
    _body = b""

    def gotLength(self, length):
        # the request line is in, on the channel: twisted sets method and uri only once the body is in
        command, path = getattr(self.channel, "_command", b""), getattr(self.channel, "_path", b"")
        method, path = command.decode("latin-1"), path.split(b"?", 1)[0].decode("latin-1")
        self._limit, self._body = limit_for(method, path), refusal_body(method, path)
        if length is not None and too_large(length, self._limit):
            self.content = io.BytesIO()
            self._refuse()
        else:
            super().gotLength(length)

    def handleContentChunk(self, data):
        if self._refused:
            return
        self._received += len(data)
        if too_large(self._received, self._limit):
            self._refuse()
        else:
            super().handleContentChunk(data)

    def requestReceived(self, command, path, version):
        if not self._refused:
            super().requestReceived(command, path, version)

    def _refuse(self):
        self._refused = True
        self.requestHeaders.removeHeader(b"expect")  # no "100 Continue" after the answer
        transport = self.channel.transport
        # logged here: the request never reaches Django (nor daphne's access log)
        log.warning("413: a request body over its cap (%s bytes) from %s, refused before receiving it",
                    self._limit, getattr(transport.getPeer(), "host", "?"))
        transport.write(response(self._body))
        # half-close: the 413 goes out and what the client still sends is dropped; closing with
        # unread data would reset the connection, and the client might lose the 413
        if hasattr(transport, "loseWriteConnection"):
            from twisted.internet import reactor  # daphne's, installed before any request

            transport.loseWriteConnection()
            reactor.callLater(LINGER_SECONDS, transport.loseConnection)
        else:
            self.channel.loseConnection()


def install() -> None:
    """Daphne's requests get the cap (the web process loads daphne in any case: INSTALLED_APPS)."""
    http_protocol.WebRequest = CappedWebRequest  # the name daphne's HTTPFactory.buildProtocol reads
