#!/usr/bin/env python3
"""msrprelay against a real client: python msrplib, the MSRP stack of Blink
and SylkServer. See README.md beside this file.

For every engine x transport x topology it starts the relay(s) itself on
127.0.0.1, runs each scenario with a time bound, prints PASS/FAIL with a
reason, and exits 1 if anything failed (2 if it could not run at all).
"""

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SOURCES = ("python3-msrplib", "python3-eventlib", "python3-application", "python3-gnutls")

TOPOLOGIES = []  # every Topology started, for the watchdog and signals


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--msrplib", default=os.environ.get("MSRPLIB"),
                   help="folder holding %s (default $MSRPLIB)" % ", ".join(SOURCES))
    p.add_argument("--relay", default=os.path.join(REPO, "bin", "msrprelay"), help="the msrprelay binary")
    p.add_argument("--engines", default="gnet,goroutine")
    p.add_argument("--transports", default="tcp,tls", help="tcp (msrp) and/or tls (msrps)")
    p.add_argument("--topologies", default="single,two")
    p.add_argument("--scenarios", default="all",
                   help="comma-separated names; all = the default set; every = also the opt-in ones (--list)")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    p.add_argument("--workdir", help="where relay logs, certificates and results go (default: a new temp dir)")
    p.add_argument("--total-timeout", type=float, default=1800, help="hard bound on the whole run, seconds")
    return p.parse_args()


def setup_sources(folder):
    if not folder:
        die("interop: no msrplib sources: pass --msrplib DIR or MSRPLIB=DIR (see bench/interop/README.md)")
    missing = [s for s in SOURCES if not os.path.isdir(os.path.join(folder, s))]
    if missing:
        die("interop: %s lacks %s (see bench/interop/README.md)" % (folder, ", ".join(missing)))
    sys.path[:0] = [os.path.join(folder, s) for s in SOURCES] + [HERE]


def die(msg):
    """Cannot run at all: exit 2 (a FAIL is 1)."""
    sys.stderr.write(msg + "\n")
    stop_all()
    os._exit(2)


def stop_all():
    for t in TOPOLOGIES:
        try:
            t.stop()
        except Exception:
            pass


def hard_exit(code, why):
    sys.stdout.write("\ninterop: %s\n" % why)
    sys.stdout.flush()
    stop_all()
    os._exit(code)


class Abort(BaseException):
    """A scenario ran past its bound (BaseException: no scenario's
    `except Exception` may swallow it)."""


def main():
    args = parse_args()
    setup_sources(args.msrplib)
    workdir = args.workdir or tempfile.mkdtemp(prefix="msrprelay-interop-")
    os.makedirs(workdir, exist_ok=True)
    logging.basicConfig(filename=os.path.join(workdir, "client.log"), level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", force=True)
    try:
        from twisted.internet import reactor
        # The reactor runs in this (main) greenlet and the scenarios in a
        # greenlet of their own, as in a Twisted application: eventlib's other
        # mode (the reactor in a side greenlet) cannot block the main greenlet
        # under greenlet >= 2.
        from eventlib.twistedutil import join_reactor  # noqa: F401
        from twisted.python import log as twisted_log
        twisted_log.PythonLoggingObserver().start()  # Twisted's own errors into client.log
        import client  # noqa: F401  (msrplib, eventlib, gnutls, twisted)
        import scenarios
        from eventlib import api
        from relays import Topology
    except ImportError as e:
        die("interop: cannot import the client stack (%s); see bench/interop/README.md" % e)
    # application.log may have put its own handler on the root logger: keep ours only
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if isinstance(h, logging.FileHandler)]

    if args.list:
        for name, fn, t, default in scenarios.SCENARIOS:
            doc = " ".join((fn.__doc__ or "").split())
            print("%-21s %3ds %-7s %s" % (name, t, "" if default else "opt-in", doc))
        return 0
    if not os.access(args.relay, os.X_OK):
        die("interop: %s is not an executable (make build)" % args.relay)
    chosen = scenarios.SCENARIOS
    if args.scenarios == "all":
        chosen = [s for s in chosen if s[3]]
    elif args.scenarios != "every":
        want = args.scenarios.split(",")
        unknown = set(want) - {s[0] for s in chosen}
        if unknown:
            die("interop: unknown scenario(s) %s (--list)" % ", ".join(sorted(unknown)))
        chosen = [s for s in chosen if s[0] in want]

    watchdog = threading.Timer(args.total_timeout, hard_exit, (3, "the whole run passed --total-timeout %ss" % args.total_timeout))
    watchdog.daemon = True
    watchdog.start()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda s, f: hard_exit(130, "stopped by signal %d" % s))

    print("interop: relay %s, msrplib from %s, work dir %s" % (args.relay, args.msrplib, workdir))
    exit_code = [2]

    def body():
        try:
            exit_code[0] = run_all(args, chosen, workdir, api, scenarios, Topology)
        except BaseException:
            traceback.print_exc()
        finally:
            watchdog.cancel()
            reactor.stop()
    reactor.callWhenRunning(api.spawn, body)
    reactor.run(installSignalHandlers=False)
    return exit_code[0]


def run_all(args, chosen, workdir, api, scenarios, Topology):
    results = []
    configs = [(e, tr, to) for e in args.engines.split(",") for tr in args.transports.split(",")
               for to in args.topologies.split(",")]
    for engine, transport, topology in configs:
        label = "%s/%s/%s" % (engine, transport, topology)
        topo = None

        def start():
            t = Topology(args.relay, os.path.join(workdir, label.replace("/", "-")), engine, transport, topology)
            TOPOLOGIES.append(t)
            t.start()
            return t
        try:
            topo = start()
        except Exception as e:
            for name, _, _, _ in chosen:
                results.append(record(name, engine, transport, topology, "FAIL", "relay did not start: %s" % e, 0, [], []))
                emit(results[-1])
            if topo:
                topo.stop()
            continue
        for name, fn, bound, _ in chosen:
            if not topo.alive():  # an earlier scenario killed it: start afresh for the next
                topo.stop()
                topo = start()

            def new_topology(extra, n=[0]):
                n[0] += 1
                t = Topology(args.relay, os.path.join(workdir, "%s-%s-%d" % (label.replace("/", "-"), name, n[0])),
                             engine, transport, topology, extra)
                TOPOLOGIES.append(t)
                t.start()
                return t
            ctx = scenarios.Context(topo, new_topology)
            offsets = topo.offsets()
            panics = topo.metric("msrprelay_panics_total")
            t0 = time.time()
            verdict, reason = "PASS", ""
            try:
                with api.timeout(bound, Abort()):
                    reason = fn(ctx) or ""
            except scenarios.Fail as e:
                verdict, reason = "FAIL", str(e)
            except Abort:
                verdict, reason = "FAIL", "scenario passed its %ds bound" % bound
            except Exception as e:
                verdict, reason = "FAIL", "client error %r" % e
                logging.getLogger("interop").error("%s %s: %s", label, name, traceback.format_exc())
            api.sleep(0.3)  # late log lines (REPORTs, closes) belong to this scenario
            if not topo.alive():
                died = "relay died: %s" % ", ".join(topo.dead())
                verdict, reason = "FAIL", reason if reason.startswith(died) else "%s; %s" % (died, reason)
            elif topo.metric("msrprelay_panics_total") > panics:
                verdict, reason = "FAIL", "the relay recovered %d panic(s); %s" % (
                    topo.metric("msrprelay_panics_total") - panics, reason)
            relay_log = []
            if verdict == "FAIL":
                relay_log = topo.tail(offsets, 15)
                for t in ctx.extra_topos:
                    relay_log += t.tail([0] * len(t.relays), 15)
            traces = [l for ep in ctx.traces for l in ep.trace()] if verdict == "FAIL" else []
            try:
                with api.timeout(5, None):
                    ctx.cleanup()
                    api.sleep(0.2)  # the relay logs the closes before the next scenario starts
            except Exception:
                pass
            results.append(record(name, engine, transport, topology, verdict, reason, time.time() - t0, relay_log, traces))
            emit(results[-1])
        topo.stop()
    write_results(results, workdir)
    failed = [r for r in results if r["verdict"] == "FAIL"]
    print("\ninterop: %d passed, %d failed" % (len(results) - len(failed), len(failed)))
    print("interop: results in %s/results.md and results.json" % workdir)
    return 1 if failed else 0


def record(name, engine, transport, topology, verdict, reason, secs, relay_log, traces):
    return {"scenario": name, "engine": engine, "transport": transport, "topology": topology,
            "verdict": verdict, "reason": reason, "seconds": round(secs, 2), "relay_log": relay_log, "client_trace": traces}


def emit(r):
    print("%s  %-16s %-9s %-3s %-6s %5.1fs  %s" % (r["verdict"], r["scenario"], r["engine"], r["transport"], r["topology"],
                                                   r["seconds"], r["reason"]))
    if r["verdict"] == "FAIL":
        for l in r["relay_log"]:
            print("      | " + l)
        for l in r["client_trace"][-8:]:
            print("      > " + l)
    sys.stdout.flush()


def write_results(results, workdir):
    with open(os.path.join(workdir, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    cols = []
    for r in results:
        c = (r["engine"], r["transport"], r["topology"])
        if c not in cols:
            cols.append(c)
    names = []
    for r in results:
        if r["scenario"] not in names:
            names.append(r["scenario"])
    cell = {(r["scenario"], (r["engine"], r["transport"], r["topology"])): r["verdict"] for r in results}
    lines = ["| scenario | " + " | ".join("%s %s %s" % c for c in cols) + " |",
             "|---|" + "---|" * len(cols)]
    for n in names:
        lines.append("| %s | " % n + " | ".join(cell.get((n, c), "-") for c in cols) + " |")
    lines += ["", "## Failures", ""]
    for r in results:
        if r["verdict"] == "FAIL":
            lines.append("- **%s** %s/%s/%s: %s" % (r["scenario"], r["engine"], r["transport"], r["topology"], r["reason"]))
            lines += ["      " + l for l in r["relay_log"] + r["client_trace"]]
    lines += ["", "## Notes from passing scenarios", ""]
    for r in results:
        if r["verdict"] == "PASS" and r["reason"]:
            lines.append("- %s %s/%s/%s: %s" % (r["scenario"], r["engine"], r["transport"], r["topology"], r["reason"]))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(workdir, "results.md"), "w") as f:
        f.write(text)
    print("\n" + "\n".join(lines[:len(names) + 2]))


if __name__ == "__main__":
    try:
        code = main()
    except SystemExit:
        stop_all()
        raise
    except BaseException:
        traceback.print_exc()
        code = 2
    stop_all()
    sys.stdout.flush()
    os._exit(code)
