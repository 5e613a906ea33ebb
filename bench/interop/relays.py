"""Starting and stopping msrprelay daemons for the interop driver.

Everything here is plain Python (no msrplib): credentials through
`msrprelay passwd`, a throwaway CA and relay certificates through the
openssl command for the two-relay msrps topology, the daemon on 127.0.0.1
with a free port, its JSON log kept in a file so a failing scenario can
show what the relay said meanwhile.
"""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

DOMAIN = "interop.test"  # the users' SIP domain: the AUTH To-Path host and the realm
USERS = {"alice": "alice-interop-pw", "bob": "bob-interop-pw", "carol": "carol-interop-pw"}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_credentials(binary, path):
    for user, password in USERS.items():
        subprocess.run([binary, "passwd", path, user, DOMAIN], input=(password + "\n").encode(),
                       stdout=subprocess.DEVNULL, check=True, timeout=20)


def make_certs(workdir, names=("relay1", "relay2")):
    """A CA and one certificate per relay for 127.0.0.1 (IP SAN), usable as
    server and as client certificate (mutual TLS between the relays).
    Returns the CA path and {name: (cert, key)}."""
    def sh(*args):
        subprocess.run(args, cwd=workdir, check=True, timeout=30,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=msrprelay interop CA",
       "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    with open(os.path.join(workdir, "leaf.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "extendedKeyUsage=serverAuth,clientAuth\n"
                "keyUsage=critical,digitalSignature\n"
                "basicConstraints=CA:FALSE\n")
    out = {}
    for n in names:
        sh("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", n + ".key", "-out", n + ".csr", "-subj", "/CN=127.0.0.1")
        sh("openssl", "x509", "-req", "-in", n + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
           "-CAcreateserial", "-out", n + ".pem", "-days", "2", "-extfile", "leaf.ext")
        out[n] = (os.path.join(workdir, n + ".pem"), os.path.join(workdir, n + ".key"))
    return os.path.join(workdir, "ca.pem"), out


class Relay:
    """One msrprelay process on 127.0.0.1."""

    def __init__(self, binary, workdir, name, engine, tls, credentials, tls_args=(), extra=()):
        self.binary, self.workdir, self.name = binary, workdir, name
        self.engine, self.tls = engine, tls
        self.port = free_port()
        self.log_path = os.path.join(workdir, name + ".log")
        n = 2
        while os.path.exists(self.log_path):  # a restart keeps the log of the run before
            self.log_path = os.path.join(workdir, "%s.%d.log" % (name, n))
            n += 1
        self.ephemeral = os.path.join(workdir, name + "-ephemeral.pem")
        self.args = [binary,
                     "--listen", "%s://127.0.0.1:%d" % ("tls" if tls else "tcp", self.port),
                     "--hostname", "127.0.0.1",
                     "--credentials", credentials,
                     "--engine", engine,
                     "--shutdown-grace", "1s",
                     # 10 s instead of 30 s: a failure REPORT that only comes from the
                     # transaction timer still arrives inside the scenario's bound.
                     "--transaction-timeout", "10s",
                     "--log-format", "json", "--log-level", "info",
                     "--tls-ephemeral-cert", self.ephemeral] + list(tls_args) + list(extra)
        self.admin_port = free_port()
        self.args += ["--admin-listen", "127.0.0.1:%d" % self.admin_port]
        self.proc = None
        self.exit_code = None

    @property
    def addr(self):
        return ("127.0.0.1", self.port)

    def start(self, timeout=15):
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.log, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited at start with code %s: %s" % (self.name, self.proc.returncode, self.tail(0, 10)))
            if any(l.get("message") == "msrprelay started" for l in self.lines(0)):
                return
            time.sleep(0.05)
        raise RuntimeError("%s did not log 'msrprelay started' within %ss" % (self.name, timeout))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def metrics(self):
        """The relay's Prometheus counters and gauges by name ({} if unreachable)."""
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.admin_port, timeout=3) as r:
                text = r.read().decode()
        except OSError:
            return {}
        out = {}
        for line in text.splitlines():
            if line.startswith("msrprelay_"):
                name, _, value = line.partition(" ")
                try:
                    out[name] = float(value)
                except ValueError:
                    pass
        return out

    def offset(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def lines(self, since):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                raw = f.read()
        except OSError:
            return []
        out = []
        for line in raw.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"level": "raw", "message": line.decode("utf-8", "replace")})
        return out

    def tail(self, since, n=20, quiet=("TLS handshake failed",)):
        """The relay's log lines since `since`, compact, the last n."""
        picked = [l for l in self.lines(since) if l.get("message") not in quiet]
        out = []
        for l in picked[-n:]:
            fields = " ".join("%s=%s" % (k, v) for k, v in l.items() if k not in ("level", "message", "time"))
            out.append("%s %s: %s %s" % (self.name, l.get("level", "?"), l.get("message", ""), fields))
        return out

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.exit_code = self.proc.returncode
        self.log.close()


class Topology:
    """The relays of one configuration: engine x transport x topology.

    single: alice and bob both AUTH on one relay (RFC 4976's shared case,
    the way two Blink users of one provider meet).
    two:    alice on relay 1, bob on relay 2; relay 1 dials relay 2 (over
            msrps with mutual TLS: both relays show a certificate from one CA
            and trust that CA with --tls-ca).
    """

    def __init__(self, binary, workdir, engine, transport, topology, extra=()):
        self.engine, self.transport, self.topology = engine, transport, topology
        self.tls = transport == "tls"
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        creds = os.path.join(workdir, "credentials.htdigest")
        write_credentials(binary, creds)
        self.relays = []
        self.ca = None
        if topology == "single":
            self.relays.append(Relay(binary, workdir, "relay1", engine, self.tls, creds, extra=extra))
        else:
            tls_args = {"relay1": [], "relay2": []}
            if self.tls:
                self.ca, certs = make_certs(workdir)
                for n, (cert, key) in certs.items():
                    tls_args[n] = ["--tls-cert", cert, "--tls-key", key, "--tls-ca", self.ca]
            for n in ("relay1", "relay2"):
                self.relays.append(Relay(binary, workdir, n, engine, self.tls, creds, tls_args[n], extra))

    def start(self):
        for r in self.relays:
            r.start()
        if self.tls and self.ca is None:
            self.ca = self.relays[0].ephemeral  # the single relay's self-signed certificate

    def relay_for(self, who):
        """Relay index of a user: alice on relay 1, bob (and carol) on the last relay."""
        return 0 if who == "alice" else len(self.relays) - 1

    def alive(self):
        return all(r.alive() for r in self.relays)

    def dead(self):
        return ["%s (exit %s)" % (r.name, r.proc.returncode) for r in self.relays if not r.alive()]

    def metric(self, name):
        """A metric summed over the relays."""
        return sum(r.metrics().get(name, 0) for r in self.relays)

    def counters(self, names=("bytes_received_total", "bytes_sent_total", "sender_pauses_total",
                              "connections", "sessions")):
        """A few of each relay's metrics, for failure reasons."""
        out = []
        for r in self.relays:
            m = r.metrics()
            out.append("%s %s" % (r.name, " ".join("%s=%d" % (n, m.get("msrprelay_" + n, -1)) for n in names)))
        return "; ".join(out)

    def sockets(self):
        """Established TCP sockets of the relays' ports (ss: Recv-Q, Send-Q):
        tells a peer that stopped reading from a relay that stopped writing."""
        out = []
        try:
            text = subprocess.run(["ss", "-tnH", "state", "established"], capture_output=True, text=True,
                                  timeout=5).stdout
        except (OSError, subprocess.SubprocessError):
            return "ss unavailable"
        ports = {":%d" % r.port: r.name for r in self.relays}
        for line in text.splitlines():
            f = line.split()
            if len(f) < 4:
                continue
            rq, sq, local, peer = f[0], f[1], f[2], f[3]
            for p, n in ports.items():
                if local.endswith(p):
                    out.append("%s %s->%s recvq=%s sendq=%s" % (n, local, peer, rq, sq))
                elif peer.endswith(p):
                    out.append("client %s->%s(%s) recvq=%s sendq=%s" % (local, peer, n, rq, sq))
        return "; ".join(out)

    def offsets(self):
        return [r.offset() for r in self.relays]

    def tail(self, offsets, n=20):
        out = []
        for r, off in zip(self.relays, offsets):
            out.extend(r.tail(off, n))
        return out

    def stop(self):
        for r in self.relays:
            r.stop()
