"""MQTT peers for the uplink tests (run with /usr/bin/python3): a real
mosquitto started on a free loopback port with a generated configuration
in the harness's temp dir, TLS material made with openssl, and a
subscriber (Debian's python3-paho-mqtt 1.6) that records what arrives."""

import json
import os
import socket
import ssl
import subprocess
import threading
import time

import paho.mqtt.client as paho

import harness as H


class Broker:
    """mosquitto on 127.0.0.1:port. conf: extra configuration lines for
    the listener (TLS, passwords); persistence keeps sessions and retained
    messages across a restart (stop() then start())."""

    def __init__(self, h, conf="", persistence=False, port=None, name=None):
        self.h = h
        self.port = port or H.free_port()
        self.name = name or "mosquitto-%d" % self.port
        self.dir = h.path(self.name)
        os.makedirs(self.dir, exist_ok=True)
        self.conf_path = os.path.join(self.dir, "mosquitto.conf")
        lines = ["listener %d 127.0.0.1" % self.port]
        if "password_file" not in conf:
            lines.append("allow_anonymous true")
        lines.append(conf)
        if persistence:
            lines += ["persistence true",
                      "persistence_location %s/" % self.dir,
                      "autosave_interval 1"]
        else:
            lines.append("persistence false")
        if os.geteuid() == 0:
            lines.append("user root")  # it can read our 0700 temp dir
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None
        self.start()

    def start(self):
        self.proc = self.h.start(["mosquitto", "-c", self.conf_path],
                                 name=self.name, stdin=False)
        ok = H.wait_until(self._listening, timeout=15)
        assert ok, "mosquitto did not start:\n%s" % self.proc.stderr()

    def _listening(self):
        if not self.proc.running():
            raise AssertionError("mosquitto exited %s:\n%s" % (
                self.proc.p.poll(), self.proc.stderr()))
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.5):
                return True
        except OSError:
            return False

    def stop(self):
        self.proc.stop()


class Sub:
    """A subscriber that records (topic, payload, retain) in order."""

    def __init__(self, port, topics, client_id="", clean=True, tls=None,
                 user=None, password=None):
        self.msgs = []
        self.cond = threading.Condition()
        self.topics = topics
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.c = paho.Client(client_id=client_id, clean_session=clean)
        if user:
            self.c.username_pw_set(user, password)
        if tls:
            self.c.tls_set(ca_certs=tls.get("ca"), certfile=tls.get("cert"),
                           keyfile=tls.get("key"),
                           cert_reqs=ssl.CERT_REQUIRED)
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.reconnect_delay_set(0.1, 0.5)
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        assert self.subscribed.wait(10), "the test subscriber did not subscribe"

    def _on_connect(self, client, userdata, flags, rc):
        if rc == 0:
            self.connected.set()
            client.subscribe([(t, 1) for t in self.topics])

    def _on_message(self, client, userdata, msg):
        with self.cond:
            self.msgs.append((msg.topic, msg.payload, bool(msg.retain)))
            self.cond.notify_all()

    def wait(self, pred, timeout=20.0):
        """Wait until pred(msgs) is true; its value (asserts)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                v = pred(self.msgs)
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "timed out waiting; %d messages so far, last: %r"
                        % (len(self.msgs), self.msgs[-3:]))
                self.cond.wait(left)

    def on(self, topic):
        with self.cond:
            return [(p, r) for t, p, r in self.msgs if t == topic]

    def json_on(self, topic):
        return [json.loads(p) for p, _ in self.on(topic)]

    def publish(self, topic, payload, qos=1, retain=False):
        info = self.c.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish()

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def make_tls(h):
    """A CA, a server certificate for 127.0.0.1/localhost and a client
    certificate, made with openssl in the temp dir; their paths."""
    d = h.path("tls")
    os.makedirs(d, exist_ok=True)
    p = {k: os.path.join(d, k + ".pem") for k in
         ("ca", "ca_key", "server", "server_key", "client", "client_key")}

    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True,
                       capture_output=True, cwd=d)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=kpm31c test CA", "-keyout", p["ca_key"],
        "-out", p["ca"])
    ext = os.path.join(d, "server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for who, cn, extfile in (("server", "127.0.0.1", ext),
                             ("client", "kpm31c-sim", None)):
        csr = os.path.join(d, who + ".csr")
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + cn,
            "-keyout", p[who + "_key"], "-out", csr)
        args = ["x509", "-req", "-in", csr, "-CA", p["ca"], "-CAkey",
                p["ca_key"], "-CAcreateserial", "-days", "2", "-out", p[who]]
        if extfile:
            args += ["-extfile", extfile]
        run(*args)
    return p
