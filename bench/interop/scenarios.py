"""The interop scenarios. Each takes a running Topology and a Context,
raises Fail(reason) or returns a short note, and is bounded by the
timeout it is registered with (interop.py enforces it).
"""

import hashlib
import os
import random
import socket
import time

from eventlib import api

from client import Fail, Session, connect_pair
from msrplib import protocol as mp

KIB = 1024
MIB = 1024 * 1024
PIECE = 64 * KIB  # sipsimple's file_part_size


def wait_until(cond, timeout, what):
    """Poll cond() (every 20 ms, the reactor runs meanwhile) until true; Fail
    with `what` after timeout seconds."""
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() >= deadline:
            raise Fail("timed out after %gs waiting for %s" % (timeout, what))
        api.sleep(0.02)


def wait_progress(cond, progress, stall, cap, what):
    """Like wait_until, for a transfer that may legitimately be slow: Fail
    only when progress() has not changed for `stall` seconds, or after `cap`."""
    start = last_change = time.time()
    last = progress()
    while True:
        v = cond()
        if v:
            return v
        now = time.time()
        p = progress()
        if p != last:
            last, last_change = p, now
        if now - last_change >= stall:
            raise Fail("no progress for %gs waiting for %s" % (stall, what))
        if now - start >= cap:
            raise Fail("timed out after %gs waiting for %s (still moving)" % (cap, what))
        api.sleep(0.05)


def cpim(sender, recipient, text):
    return ("From: <sip:%s@interop.test>\r\nTo: <sip:%s@interop.test>\r\nDateTime: %s\r\n\r\n"
            "Content-Type: text/plain;charset=utf-8\r\nContent-Length: %d\r\n\r\n%s"
            % (sender, recipient, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), len(text.encode()), text))


def code_of(resp):
    return None if resp is None else getattr(resp, "code", None)


def status_of(report):
    st = report.status
    return st.code if st is not None else None


def merge(intervals):
    """Union of closed intervals [(start, end)], 1-based inclusive."""
    out = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def missing(intervals, total):
    """Ranges of 1..total not covered."""
    gaps, at = [], 1
    for s, e in merge(intervals):
        if s > at:
            gaps.append((at, s - 1))
        at = max(at, e + 1)
    if at <= total:
        gaps.append((at, total))
    return gaps


def fmt_ranges(rs, limit=4):
    s = ", ".join("%d-%d" % r for r in rs[:limit])
    return s + (" (+%d more)" % (len(rs) - limit) if len(rs) > limit else "")


def report_range(report):
    br = report.byte_range
    if br is None:
        return None
    start, end, total = br
    return (start, end if end is not None else total)


class Context:
    """What scenarios share: the topology, and endpoints to clean up."""

    def __init__(self, topo, new_topology=None):
        self.topo = topo
        self.new_topology = new_topology  # fn(extra relay args) -> started Topology
        self.extra_topos = []
        self.endpoints = []
        self.traces = []  # endpoint traces attached to a failure

    def make_topology(self, extra):
        t = self.new_topology(extra)
        self.extra_topos.append(t)
        return t

    def pair(self, topo=None, **kw):
        a, b = connect_pair(topo or self.topo, **kw)
        self.endpoints += [a, b]
        return a, b

    def cleanup(self):
        for e in self.endpoints:
            e.close()
        self.endpoints = []
        for t in self.extra_topos:
            t.stop()

    def watch(self, *eps):
        self.traces = list(eps)


# --- checks shared by several scenarios ---------------------------------

def check_chat(sender, receiver, text, timeout=10):
    """sender -> receiver, Success-Report and Failure-Report yes: the 200,
    the body at the receiver and the receiver's success REPORT back."""
    body = cpim(sender.name, receiver.name, text)
    chunk = sender.message(body)
    mid = chunk.message_id
    rec = sender.send(chunk)
    wait_until(lambda: rec["response"] is not None or sender.closed, timeout,
               "%s's SEND transaction response" % sender.name)
    if sender.closed:
        raise Fail("%s's connection closed: %r" % (sender.name, sender.closed))
    if code_of(rec["response"]) != 200:
        raise Fail("%s's SEND got %s %s" % (sender.name, code_of(rec["response"]), getattr(rec["response"], "comment", "")))
    got = wait_until(lambda: [c for c in receiver.received if c.message_id == mid] or receiver.closed, timeout,
                     "the message at %s" % receiver.name)
    if receiver.closed and not isinstance(got, list):
        raise Fail("%s's connection closed: %r" % (receiver.name, receiver.closed))
    data = got[0].data if isinstance(got[0].data, bytes) else got[0].data.encode()
    if data != body.encode():
        raise Fail("%s received a different body (%d bytes, want %d)" % (receiver.name, len(data), len(body)))
    if got[0].content_type != "message/cpim":
        raise Fail("%s received Content-Type %r" % (receiver.name, got[0].content_type))
    reps = wait_until(lambda: [r for r in sender.reports if r.message_id == mid], timeout,
                      "the success REPORT at %s" % sender.name)
    if status_of(reps[0]) != 200:
        raise Fail("%s got REPORT status %s for its message" % (sender.name, status_of(reps[0])))
    n = len(body.encode())
    if report_range(reps[0]) != (1, n):
        raise Fail("REPORT Byte-Range %s, want 1-%d/%d" % (reps[0].headers["Byte-Range"].encoded, n, n))


def still_serving(ctx, label="a fresh pair"):
    """The relays are alive and a new pair can AUTH, bind and chat."""
    if not ctx.topo.alive():
        raise Fail("relay died: %s" % ", ".join(ctx.topo.dead()))
    try:
        c, d = ctx.pair(a="alice", b="carol")
        check_chat(c, d, "still there? " + label)
    except Fail as e:
        raise Fail("relay no longer serves %s: %s" % (label, e))
    except Exception as e:
        raise Fail("relay no longer serves %s: %r" % (label, e))


def send_file(a, data, message_id=None):
    """sipsimple's outgoing file: every 64 KiB piece queued at once."""
    mid = message_id or "%x" % random.getrandbits(64)
    recs = []
    for off in range(0, len(data), PIECE):
        recs.append(a.send(a.file_chunk(data[off:off + PIECE], off, len(data), mid)))
    return mid, recs


def received_pieces(b, mid):
    return [c for c in b.received if c.method == "SEND" and c.message_id == mid]


def verify_delivery(b, mid, data):
    """Every piece b got for mid matches the original bytes at its
    Byte-Range; returns (covered intervals, flags seen)."""
    cover, flags = [], []
    for c in received_pieces(b, mid):
        body = c.data if isinstance(c.data, bytes) else c.data.encode()
        start, end, total = c.byte_range
        if total not in (None, len(data)):
            raise Fail("piece at %d says total %s, want %d" % (start, total, len(data)))
        if end is not None and body and end != start + len(body) - 1:
            raise Fail("piece Byte-Range %s but %d body bytes" % (c.headers["Byte-Range"].encoded, len(body)))
        if body != data[start - 1:start - 1 + len(body)]:
            raise Fail("bytes differ in the piece starting at %d (%d bytes)" % (start, len(body)))
        if body:
            cover.append((start, start + len(body) - 1))
        flags.append((start, c.contflag))
    return cover, flags


def transfer(ctx, size, one_chunk, timeout):
    a, b = ctx.pair()
    ctx.watch(a, b)
    data = os.urandom(size)
    if one_chunk:
        chunk = a.msrp.make_send_request(data=data)  # msrplib's send_message shape: 1-*/N, '$'
        chunk.add_header(mp.ContentTypeHeader("application/octet-stream"))
        chunk.add_header(mp.SuccessReportHeader("yes"))
        chunk.add_header(mp.FailureReportHeader("yes"))
        mid = chunk.message_id
        recs = [a.send(chunk)]
    else:
        mid, recs = send_file(a, data)
    t0 = time.time()

    def delivered():
        if a.closed or b.closed:
            return True
        cover, _ = verify_delivery(b, mid, data)
        return not missing(cover, size)
    wait_until(delivered, timeout, "all %d bytes at bob" % size)
    for e in (a, b):
        if e.closed:
            raise Fail("%s's connection closed mid-transfer: %r" % (e.name, e.closed))
    cover, flags = verify_delivery(b, mid, data)
    end_flags = [c.contflag for c in received_pieces(b, mid)
                 if (c.byte_range[0] - 1 + len(c.data)) == size]
    if "$" not in end_flags:
        raise Fail("the piece ending the message did not end with '$' (flags %s)" % end_flags)
    if any(f == "#" for _, f in flags):
        raise Fail("a piece arrived with '#' (aborted)")

    def reported():
        reps = [r for r in a.reports if r.message_id == mid]
        return not missing([report_range(r) for r in reps if status_of(r) == 200 and report_range(r)], size)
    wait_until(reported, timeout, "success REPORTs covering all %d bytes at alice" % size)
    bad = [r for r in a.reports if r.message_id == mid and status_of(r) != 200]
    if bad:
        raise Fail("alice got failure REPORTs: %s" % ", ".join("%s %s" % (status_of(r), r.headers["Byte-Range"].encoded) for r in bad))
    wait_until(lambda: all(r["response"] is not None for r in recs), timeout, "every SEND's transaction response")
    codes = sorted({code_of(r["response"]) for r in recs})
    if codes != [200]:
        raise Fail("transaction responses %s" % codes)
    secs = time.time() - t0
    pieces = len(received_pieces(b, mid))
    return "%d bytes sha1 %s.. in %.1fs, %d SEND(s) sent, %d piece(s) received, %d success REPORT(s)" % (
        size, hashlib.sha1(data).hexdigest()[:10], secs, len(recs), pieces,
        len([r for r in a.reports if r.message_id == mid]))


# --- scenarios ------------------------------------------------------------

def sc_chat(ctx):
    a, b = ctx.pair()
    ctx.watch(a, b)
    check_chat(a, b, "hello bob, this is alice")
    check_chat(b, a, "hello alice, bob here")
    return "alice->bob and bob->alice: 200, body, success REPORT 1-N/N"


def sc_file(ctx):
    return transfer(ctx, 3 * MIB + 4321, one_chunk=False, timeout=60)


def sc_big_chunk(ctx):
    return transfer(ctx, 10 * MIB, one_chunk=True, timeout=60)


def sc_file_offset(ctx):
    """sipsimple's outgoing transfer starts with FILE_OFFSET (To-Path, From-Path,
    nothing else) and waits for the receiver's 200 with Offset; then the file."""
    a, b = ctx.pair()
    ctx.watch(a, b)
    rec = a.send(a.msrp.make_request("FILE_OFFSET"))
    wait_until(lambda: rec["response"] is not None or a.closed, 15, "the FILE_OFFSET response")
    if a.closed:
        seen = [c.method for c in b.received]
        raise Fail("the relay closed alice's connection after FILE_OFFSET, no response (alice saw %s: %s; "
                   "bob %s FILE_OFFSET)" % (type(a.closed).__name__, a.closed,
                                            "got" if "FILE_OFFSET" in seen else "never got"))
    resp = rec["response"]
    if code_of(resp) != 200:
        raise Fail("FILE_OFFSET answered %s %s" % (code_of(resp), getattr(resp, "comment", "")))
    off = resp.headers.get("Offset")
    if off is None or off.decoded != 0:
        raise Fail("FILE_OFFSET 200 without bob's Offset: 0 (got %r)" % (off and off.encoded))
    # then the file, on the same connections, as sipsimple does
    data = os.urandom(256 * KIB + 7)
    mid, recs = send_file(a, data)
    wait_until(lambda: a.closed or b.closed or not missing(verify_delivery(b, mid, data)[0], len(data)), 30,
               "the file after FILE_OFFSET")
    if a.closed or b.closed:
        raise Fail("connection closed during the file after FILE_OFFSET")
    return "200 with Offset: 0 end to end, then %d bytes delivered" % len(data)


def sc_sender_drop(ctx):
    """alice sends 4 pieces, then half of a 5th, then drops (RST). bob's
    stream must stay in sync (the cut piece ended with '#' or '+'), bob's
    connection must stay, bob's next SEND toward alice must fail promptly
    (481 or a failure REPORT), and the relay must serve a new pair."""
    a, b = ctx.pair()
    ctx.watch(a, b)
    size = 1 * MIB
    data = os.urandom(size)
    mid = "%x" % random.getrandbits(64)
    for off in range(0, 4 * PIECE, PIECE):
        a.send(a.file_chunk(data[off:off + PIECE], off, size, mid))
    wait_until(lambda: not missing(verify_delivery(b, mid, data)[0], 4 * PIECE) or b.closed, 20, "4 pieces at bob")
    cut = a.file_chunk(data[4 * PIECE:5 * PIECE], 4 * PIECE, size, mid)
    raw = cut.encode()
    header_len = raw.index(b"\r\n\r\n") + 4
    a.msrp.transport.write(raw[:header_len + PIECE // 2])
    api.sleep(0.5)  # let the relay start streaming the piece to bob
    t_drop = time.time()
    a.abort()

    def beyond():
        return [c for c in received_pieces(b, mid) if c.byte_range[0] > 4 * PIECE]
    notes = []
    try:
        wait_until(lambda: beyond() or b.closed, 10, "the interrupted piece's end-line at bob")
    except Fail:
        raise Fail("bob never got the end of the piece alice was sending when she dropped: his connection "
                   "is mid-chunk for good (every later frame to him is read as body)")
    if b.closed:
        raise Fail("the relay closed bob's connection when alice dropped: %r" % b.closed)
    cutp = beyond()
    notes.append("cut piece reached bob with %d bytes, flag '%s', %.2fs after the drop"
                 % (sum(len(c.data) for c in cutp), cutp[-1].contflag, cutp[-1] and time.time() - t_drop))
    if cutp[-1].contflag not in "#+":
        raise Fail("cut piece ended with '%s'" % cutp[-1].contflag)
    verify_delivery(b, mid, data)  # what arrived matches
    # bob writes back to the vanished alice
    chunk = b.message(cpim("bob", "alice", "are you there?"))
    rec = b.send(chunk)
    wait_until(lambda: (rec["response"] is not None and code_of(rec["response"]) != 200)
               or [r for r in b.reports if r.message_id == chunk.message_id] or b.closed,
               15, "a failure for bob's SEND toward the vanished alice")
    if b.closed:
        raise Fail("bob's connection closed: %r" % b.closed)
    reps = [r for r in b.reports if r.message_id == chunk.message_id]
    if reps and status_of(reps[0]) == 200:
        raise Fail("bob got a success REPORT from the vanished alice")
    notes.append("bob's SEND to alice: response %s%s" % (code_of(rec["response"]),
                 ", REPORT %s" % status_of(reps[0]) if reps else ""))
    still_serving(ctx)
    return "; ".join(notes)


def sc_receiver_drop(ctx):
    """alice sends a 3 MiB file (all pieces queued, as sipsimple does); bob
    takes 6 pieces and drops. Every byte must end with an outcome at alice:
    a success REPORT, a failure REPORT, or an error response; alice's
    connection stays, the relay serves a new pair."""
    keep = 6 * PIECE

    class Dropper(Session):
        """bob answers the first `keep` bytes normally; on the next piece he
        answers nothing, lets his queued REPORTs leave, and drops (RST)."""
        dropped_at = None

        def _handle_incoming_SEND(self, chunk):
            br = chunk.byte_range
            if chunk.data and br is not None and br[0] > keep and Dropper.dropped_at is None:
                Dropper.dropped_at = time.time()
                api.sleep(0.3)  # the REPORTs for what he took leave first
                me[0].abort()
                return
            Session._handle_incoming_SEND(self, chunk)

    me = [None]
    a, b = ctx.pair(b_session=Dropper)
    me[0] = b
    ctx.watch(a, b)
    size = 3 * MIB
    data = os.urandom(size)
    mid, recs = send_file(a, data)
    wait_until(lambda: Dropper.dropped_at is not None, 30, "bob to take 6 pieces and drop")

    def outcomes():
        ok = [report_range(r) for r in a.reports if r.message_id == mid and status_of(r) == 200]
        bad = [(report_range(r), status_of(r)) for r in a.reports if r.message_id == mid and status_of(r) != 200]
        refused = []
        for r in recs:
            c = code_of(r["response"])
            if c is not None and c != 200:
                s = r["chunk"].byte_range[0]
                refused.append(((s, s + len(r["chunk"].data) - 1), c))
        return ok, bad, refused

    def settled():
        ok, bad, refused = outcomes()
        cover = ok + [x for x, _ in bad] + [x for x, _ in refused]
        return not missing([c for c in cover if c], size) and all(r["response"] is not None for r in recs)
    try:
        wait_until(lambda: settled() or a.closed, 25, "an outcome for every byte at alice")
        timed_out = False
    except Fail:
        timed_out = True
    ok, bad, refused = outcomes()
    local408 = [r for r in recs if isinstance(r["response"], Exception)]
    def by_status(pairs):
        codes = sorted({c for _, c in pairs}, key=str)
        return "; ".join("%s: %d (%s)" % (c, sum(1 for _, c2 in pairs if c2 == c),
                                          fmt_ranges(merge([x for x, c2 in pairs if c2 == c and x]), 3))
                         for c in codes) or "none"
    summary = ("success REPORTs cover %s; failure REPORTs %s; error responses %s"
               % (fmt_ranges(merge([x for x in ok if x])) or "nothing", by_status(bad), by_status(refused)))
    if a.closed:
        raise Fail("the relay closed alice's connection when bob dropped: %r (%s)" % (a.closed, summary))
    if timed_out:
        cover = ok + [x for x, _ in bad] + [x for x, _ in refused]
        gaps = missing([c for c in cover if c], size)
        raise Fail("no outcome within 25 s for bytes %s (%d SENDs without a response)%s; %s"
                   % (fmt_ranges(gaps), sum(1 for r in recs if r["response"] is None),
                      ", %d local 408s" % len(local408) if local408 else "", summary))
    if local408:
        raise Fail("%d SENDs were never answered by the relay (msrplib's local 408); %s" % (len(local408), summary))
    if not missing([x for x in ok if x], keep) == []:
        raise Fail("the %d bytes bob took were not all success-reported; %s" % (keep, summary))
    if not bad and not refused:
        raise Fail("no failure REPORT and no error response after bob dropped; %s" % summary)
    still_serving(ctx)
    return summary


def big_send(a, data):
    """One SEND carrying the whole message, as msrplib's send_message does
    (Byte-Range 1-*/N, '$'), with both reports asked for."""
    chunk = a.msrp.make_send_request(data=data)
    chunk.add_header(mp.ContentTypeHeader("application/octet-stream"))
    chunk.add_header(mp.SuccessReportHeader("yes"))
    chunk.add_header(mp.FailureReportHeader("yes"))
    return chunk, a.send(chunk)


def pauses_grew(ctx, before, timeout):
    try:
        wait_until(lambda: ctx.topo.metric("msrprelay_sender_pauses_total") > before, timeout, "a sender pause")
        return True
    except Fail:
        return False


def sc_sender_drop_parked(ctx):
    """bob stops reading, alice sends one 32 MiB chunk until the relay pauses
    (parks) her, then drops (RST) while parked. bob, reading again, must see
    the chunk end ('#' or '+') with the right bytes, keep his connection, get
    a prompt failure toward alice; the relay serves a new pair."""
    a, b = ctx.pair()
    ctx.watch(a, b)
    size = 32 * MIB
    data = os.urandom(size)
    pauses = ctx.topo.metric("msrprelay_sender_pauses_total")
    body_bytes = [0]
    b.on_body_bytes(lambda n: body_bytes.__setitem__(0, n))
    # A fixed 1 MiB receive buffer: with autotuning the stalled socket grows,
    # gets pruned by the kernel, and then reopens its window a record at a time
    # over TLS (40 s for 10 MB): slow, and nothing to do with the relay.
    b.msrp.transport.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    b.freeze()
    chunk, rec = big_send(a, data)
    paused = pauses_grew(ctx, pauses, 10)
    api.sleep(0.5)
    a.abort()
    t_drop = time.time()
    api.sleep(0.5)
    b.thaw()
    mid = chunk.message_id
    # What the relays had queued toward bob before alice dropped (kernel
    # buffers included: several MB) now comes at the pace of his reading; after
    # a long stall Linux reopens his receive window slowly (after pruning the
    # full queue), so wait while bytes keep arriving, not for a fixed time.
    try:
        wait_progress(lambda: b.closed or received_pieces(b, mid), lambda: body_bytes[0], 10, 75,
                      "the end of the cut chunk at bob")
    except Fail as e:
        raise Fail("bob never got the end of alice's chunk after she dropped (%s): %d body bytes of it arrived, no "
                   "end-line; his stream is stuck mid-chunk%s; relay counters: %s; sockets: %s"
                   % (e, body_bytes[0], "" if paused else "; no sender pause was seen", ctx.topo.counters(),
                      ctx.topo.sockets()))
    if b.closed:
        raise Fail("the relay closed bob's connection when the parked alice dropped: %r" % b.closed)
    t_end = time.time() - t_drop
    cover, flags = verify_delivery(b, mid, data)
    got = sum(e - s + 1 for s, e in merge(cover))
    if flags[-1][1] == "$":
        raise Fail("the cut chunk ended with '$' at bob after %d of %d bytes: a truncated message passed off as whole"
                   % (got, size))
    chunk2 = b.message(cpim("bob", "alice", "still there?"))
    rec2 = b.send(chunk2)
    wait_until(lambda: (rec2["response"] is not None and code_of(rec2["response"]) != 200)
               or [r for r in b.reports if r.message_id == chunk2.message_id] or b.closed,
               15, "a failure for bob's SEND toward the vanished alice")
    if b.closed:
        raise Fail("bob's connection closed: %r" % b.closed)
    t_fail = time.time() - t_drop
    reps = [r for r in b.reports if r.message_id == chunk2.message_id]
    still_serving(ctx)
    return ("sender paused: %s; bob got %d of %d bytes in %d piece(s), last flag '%s' %.1fs after the drop "
            "(0.5 s of it not reading); bob's SEND to alice: response %s%s at %.1fs; a new pair chatted at %.1fs"
            % ("yes" if paused else "NOT SEEN (kernel buffers took it all)", got, size, len(flags), flags[-1][1],
               t_end, code_of(rec2["response"]), ", REPORT %s" % status_of(reps[0]) if reps else "", t_fail,
               time.time() - t_drop))


def sc_receiver_drop_parked(ctx):
    """alice sends one 32 MiB chunk; bob stops reading after 2 MiB, the relay
    pauses (parks) alice, then bob drops (RST). alice must get a failure for
    the chunk (an error response, or a failure REPORT covering all of it),
    keep her connection, and the relay serves a new pair."""
    a, b = ctx.pair()
    ctx.watch(a, b)
    size = 32 * MIB
    data = os.urandom(size)
    frozen = []

    def maybe_freeze(total):
        if total >= 2 * MIB and not frozen:
            frozen.append(time.time())
            b.freeze()
    b.on_body_bytes(maybe_freeze)
    pauses = ctx.topo.metric("msrprelay_sender_pauses_total")
    chunk, rec = big_send(a, data)
    mid = chunk.message_id
    wait_until(lambda: frozen, 20, "2 MiB at bob")
    paused = pauses_grew(ctx, pauses, 10)
    api.sleep(0.5)
    b.abort()
    t_drop = time.time()

    def outcome():
        if a.closed:
            return True
        c = code_of(rec["response"])
        if c is not None and c != 200:
            return True
        fails = [report_range(r) for r in a.reports if r.message_id == mid and status_of(r) != 200]
        return c == 200 and fails and not missing([f for f in fails if f], size)
    try:
        wait_until(outcome, 25, "alice's failure for the chunk")
    except Fail:
        fails = ["%s %s" % (status_of(r), r.headers["Byte-Range"].encoded) for r in a.reports if r.message_id == mid]
        raise Fail("no failure for the whole chunk within 25 s of bob's drop: transaction response %s, REPORTs %s%s"
                   % (code_of(rec["response"]), fails or "none", "" if paused else "; no sender pause was seen"))
    if a.closed:
        raise Fail("the relay closed alice's connection when bob dropped: %r" % a.closed)
    oks = [r for r in a.reports if r.message_id == mid and status_of(r) == 200]
    fails = ["%s %s" % (status_of(r), r.headers["Byte-Range"].encoded) for r in a.reports if r.message_id == mid and status_of(r) != 200]
    secs = time.time() - t_drop
    still_serving(ctx)
    return ("sender paused: %s; %.1fs after the drop alice had response %s, failure REPORT(s) %s%s"
            % ("yes" if paused else "NOT SEEN", secs, code_of(rec["response"]), ", ".join(fails) or "none",
               ", and %d success REPORT(s)" % len(oks) if oks else ""))


def sc_chat_past_expires(ctx):
    """(opt-in, ~70 s) A Blink chat that outlives the Expires its relay
    granted: relays with --expires-default 1m, msrplib's AUTH without
    Expires, a chat, 65 s of silence, a chat both ways again. msrplib never
    re-AUTHs, so this passes only if the relay does not cut a session in use
    for its age (README "Session lifetime"); a refusal is reported with what
    the clients saw."""
    topo = ctx.make_topology(["--expires-default", "1m"])
    a, b = ctx.pair(topo=topo)
    ctx.watch(a, b)
    check_chat(a, b, "before the granted Expires")
    api.sleep(65)
    for s, r in ((a, b), (b, a)):
        try:
            check_chat(s, r, "after the granted Expires")
        except Fail as e:
            reps = [x for x in s.reports if x.message_id != "" and status_of(x) != 200]
            raise Fail("65 s after AUTH (granted Expires %s, never refreshed, as msrplib does), %s->%s failed: %s%s"
                       % (a.expires, s.name, r.name, e,
                          "; failure REPORT %s" % status_of(reps[-1]) if reps else ""))
    return "granted Expires %s; chat both ways still works after 65 s" % a.expires


def sc_long_session(ctx):
    """msrplib sends no Expires in AUTH and never re-AUTHs: record what the
    relay grants, and that a keepalive (empty SEND with Keep-Alive: yes,
    msrplib's every 60 s) goes through."""
    a, b = ctx.pair()
    ctx.watch(a, b)
    ea, eb = a.expires, b.expires
    if ea is None or eb is None:
        raise Fail("AUTH 200 without Expires (alice %r, bob %r)" % (ea, eb))
    chunk = a.msrp.make_send_request()
    chunk.add_header(mp.MSRPHeader("Keep-Alive", "yes"))
    rec = a.send(chunk)
    wait_until(lambda: rec["response"] is not None or a.closed, 10, "the keepalive's response")
    if code_of(rec["response"]) != 200:
        raise Fail("keepalive SEND got %s" % code_of(rec["response"]))
    wait_until(lambda: [c for c in b.received if c.message_id == chunk.message_id], 10, "the keepalive at bob")
    return ("AUTH without Expires granted Expires: %s (alice) / %s (bob) (msrplib never refreshes; "
            "chat-past-expires checks what happens after); keepalive SEND 200 and delivered" % (ea, eb))


SCENARIOS = [
    # name, function, timeout (s), in the default run
    ("chat", sc_chat, 30, True),
    ("file-3MiB-64KiB", sc_file, 90, True),
    ("chunk-10MiB", sc_big_chunk, 90, True),
    ("file-offset", sc_file_offset, 60, True),
    ("sender-drop", sc_sender_drop, 60, True),
    ("receiver-drop", sc_receiver_drop, 60, True),
    ("sender-drop-parked", sc_sender_drop_parked, 120, True),
    ("receiver-drop-parked", sc_receiver_drop_parked, 90, True),
    ("long-session", sc_long_session, 30, True),
    ("chat-past-expires", sc_chat_past_expires, 120, False),
]
