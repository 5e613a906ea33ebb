"""Endpoints built on python msrplib, used the way Blink/sipsimple use it.

Import this only after interop.py has put the fetched sources on sys.path.
Nothing here is copied from msrplib or sipsimple: it calls msrplib's public
pieces (RelayConnection, MSRPTransport, MSRPSession) and builds the frames
sipsimple builds (64 KiB file chunks with Success-Report and
Failure-Report yes, FILE_OFFSET before a file) with msrplib's own helpers.
"""

import collections
import logging
import socket
import struct
import time

from twisted.internet import reactor  # noqa: F401  eventlib picks its Twisted hub when the reactor is imported first

from eventlib import api, proc
from gnutls.crypto import X509Certificate
from gnutls.interfaces.twisted import X509Credentials

import msrplib.connect as mconnect
from msrplib import protocol as mp
from msrplib.connect import MSRPRelaySettings, RelayConnection
from msrplib.session import GreenMSRPSession, OutgoingChunk
from msrplib.trafficlog import Logger
from msrplib.transport import make_response

from relays import DOMAIN, USERS

log = logging.getLogger("interop")


class Timeout(Exception):
    pass


class Fail(Exception):
    """A scenario's verdict: the reason is the message."""


# sipsimple's FILE_OFFSET answer carries the receiver's offset in an
# "Offset" header; declaring the header type makes msrplib decode it.
class OffsetHeader(mp.MSRPNamedHeader):
    name = "Offset"
    type = mp.IntegerHeaderType


# msrplib keeps the AUTH 200 to itself; remember it on the transport so the
# long-session scenario can read the Expires the relay granted.
_deliver_chunk = mconnect._deliver_chunk


def _recording_deliver_chunk(msrp, chunk):
    response = _deliver_chunk(msrp, chunk)
    if chunk.method == "AUTH":
        msrp.interop_auth_responses = getattr(msrp, "interop_auth_responses", []) + [response]
    return response


mconnect._deliver_chunk = _recording_deliver_chunk


def credentials(ca_path):
    """Client TLS credentials that trust ca_path (verify_peer stays on, as in
    Blink: chain and dates are checked, the host name is not)."""
    with open(ca_path, "rb") as f:
        return X509Credentials(None, None, [X509Certificate(f.read())])


class TraceLogger(Logger):
    """msrplib's traffic hook, kept as a short ring of frame summaries per
    endpoint (start line, paths, Byte-Range, Status, flag) for failure reports."""

    def __init__(self, name):
        super().__init__(prefix=name + " ")
        self.ring = collections.deque(maxlen=12)
        self.name = name

    def _summary(self, arrow, data):
        parts = [arrow, data.first_line]
        for h in ("To-Path", "From-Path", "Byte-Range", "Status", "Message-ID", "Expires"):
            if h in data.headers:
                parts.append("%s: %s" % (h, data.headers[h].encoded))
        parts.append("len=%d flag=%s" % (len(data.data or b""), data.contflag))
        return " | ".join(parts)

    def received_chunk(self, data, transport):
        self.ring.append("%.3f %s" % (time.time(), self._summary("<-", data)))

    def sent_chunk(self, data, transport):
        self.ring.append("%.3f %s" % (time.time(), self._summary("->", data)))

    def received_illegal_data(self, data, transport):
        self.ring.append("%.3f <- ILLEGAL %r" % (time.time(), bytes(data[:120]) if isinstance(data, (bytes, bytearray)) else data[:120]))


class Session(GreenMSRPSession):
    """msrplib's session with a receiver's FILE_OFFSET answer (what sipsimple
    does for a file it has none of: 200 with Offset: 0) and shorter timers."""

    RESPONSE_TIMEOUT = 20     # msrplib: 30 s, then a local 408
    KEEPALIVE_INTERVAL = 3600  # msrplib: 60 s; the long-session scenario sends one by hand

    def _handle_incoming_FILE_OFFSET(self, chunk):
        response = make_response(chunk, 200, "OK")
        response.add_header(OffsetHeader(0))
        self.outgoing.send(OutgoingChunk(response))
        self._on_incoming_cb(chunk)


class Endpoint:
    """One client: its transport, its session, and what it has received."""

    def __init__(self, name, msrp, logger, session_class=Session):
        self.name, self.msrp, self.logger = name, msrp, logger
        self.session = session_class(msrp)
        self.received = []     # SEND, FILE_OFFSET and other requests, in order
        self.reports = []      # REPORT requests
        self.closed = None     # the exception that ended the connection
        self.closed_at = None
        self.sent = []
        self.reader = proc.spawn(self._drain)

    @property
    def expires(self):
        for r in getattr(self.msrp, "interop_auth_responses", []):
            if r.code == 200:
                h = r.headers.get("Expires")
                return h.encoded if h is not None else None
        return None

    @property
    def path(self):
        return self.msrp.full_local_path

    def _drain(self):
        try:
            while True:
                chunk = self.session.receive_chunk()
                (self.reports if chunk.method == "REPORT" else self.received).append(chunk)
        except BaseException as e:  # the connection ended (ConnectionDone, ConnectionLost, ...)
            self.closed = e
            self.closed_at = time.time()

    def send(self, chunk):
        """Queue chunk; its transaction response (or msrplib's local 408)
        lands in the returned record."""
        rec = {"chunk": chunk, "response": None, "at": None, "sent": time.time()}

        def cb(response):
            rec["response"], rec["at"] = response, time.time()
        self.session.send_chunk(chunk, response_cb=cb)
        self.sent.append(rec)
        return rec

    def message(self, body, content_type="message/cpim", success="yes", failure="yes", message_id=None):
        chunk = self.session.make_message(body, content_type, message_id=message_id)
        chunk.add_header(mp.SuccessReportHeader(success))
        chunk.add_header(mp.FailureReportHeader(failure))
        return chunk

    def file_chunk(self, data, offset, total, message_id, content_type="application/octet-stream"):
        """One 64 KiB piece of a file as sipsimple's OutgoingFileTransferHandler
        sends it (Byte-Range start-*/total above 2 KB, '+' until the last)."""
        chunk = self.msrp.make_send_request(message_id=message_id, data=data, start=offset + 1,
                                            end=offset + len(data), length=total)
        chunk.add_header(mp.ContentTypeHeader(content_type))
        chunk.add_header(mp.SuccessReportHeader("yes"))
        chunk.add_header(mp.FailureReportHeader("yes"))
        return chunk

    FREEZE = 1 << 20

    def freeze(self):
        """Stop reading the socket (a receiver that cannot keep up): the relay's
        queue toward us fills and it must pause, then park, the sender.
        eventlib pauses and resumes reading around every wait by counting in
        `paused`; a large offset keeps its count away from 0 until thaw."""
        self.msrp.paused += self.FREEZE
        self.msrp.transport.pauseProducing()

    def thaw(self):
        self.msrp.paused -= self.FREEZE
        if self.msrp.paused == 0:  # the reader is waiting for data
            self.msrp.transport.resumeProducing()

    def on_body_bytes(self, fn):
        """fn(total) after every piece of body msrplib's parser hands on."""
        count = [0]
        orig = self.msrp._data_write

        def hook(contents, final):
            count[0] += len(contents)
            orig(contents, final)
            fn(count[0])
        self.msrp._data_write = hook

    def abort(self):
        """Drop the connection the hard way (RST, no TLS close_notify): a
        client that crashed or lost its network."""
        t = self.msrp.transport
        try:
            t.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except Exception as e:  # pragma: no cover - best effort
            log.info("%s: SO_LINGER: %r", self.name, e)
        t.abortConnection()

    def close(self):
        try:
            with api.timeout(2, None):
                self.session.shutdown(wait=False)
                self.msrp.loseConnection(wait=False)
        except Exception:
            pass

    def trace(self):
        return ["%s %s" % (self.name, l) for l in self.logger.ring]


def relay_settings(topo, who):
    host, port = topo.relays[topo.relay_for(who)].addr
    creds = credentials(topo.ca) if topo.tls else None
    return MSRPRelaySettings(domain=DOMAIN, username=who, password=USERS[who], host=host, port=port,
                             use_tls=topo.tls, credentials=creds)


def local_uri(topo):
    creds = credentials(topo.ca) if topo.tls else None
    return mp.URI(host="127.0.0.1", port=0, use_tls=topo.tls, credentials=creds)


def connect_pair(topo, a="alice", b="bob", a_session=Session, b_session=Session):
    """alice (the caller, setup active) and bob (setup passive), each through
    its own relay connection with AUTH, bound with msrplib's empty SEND the
    way two relay-using sipsimple endpoints bind after the SDP exchange."""
    la, lb = TraceLogger(a), TraceLogger(b)
    ca = RelayConnection(relay_settings(topo, a), "active", logger=la)
    cb = RelayConnection(relay_settings(topo, b), "passive", logger=lb)
    done = []
    try:
        path_a = ca.prepare(local_uri(topo))
        path_b = cb.prepare(local_uri(topo))
        pa = proc.spawn(ca.complete, path_b)
        pb = proc.spawn(cb.complete, path_a)
        msrp_a = pa.wait()
        msrp_b = pb.wait()
        done = [Endpoint(a, msrp_a, la, a_session), Endpoint(b, msrp_b, lb, b_session)]
        return done
    finally:
        if not done:
            for c in (ca, cb):
                try:
                    c.cleanup(wait=False)
                except Exception:
                    pass
