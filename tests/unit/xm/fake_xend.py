#!/usr/bin/env python3
"""A fake xend for testing xm and libxeno without the real daemon.

Serves the REST API of docs/protocols.md section 2 on a UNIX socket with
canned state: Domain-0, web1 (running), db (paused), mail (managed,
stopped). Mutations change the in-memory state. Every request is appended to
the --log file as one JSON line {"method", "path", "body"} so tests can check
what the client sent.

    fake_xend.py --socket PATH [--log FILE] [--pidfile FILE]
"""
import argparse
import json
import os
import re
import signal
import socket
import socketserver
import sys
import threading
import uuid as uuidlib
from http.server import BaseHTTPRequestHandler

LOCK = threading.Lock()
STATE = {"next_id": 3, "doms": []}
ARGS = None


def dom(name, id_, state, mem, vcpus, cpu, managed=False, uptime=None, uid=None):
    return {"name": name, "id": id_, "uuid": uid or str(uuidlib.uuid5(uuidlib.NAMESPACE_DNS, name)),
            "state": state, "mem_mib": mem, "maxmem_mib": mem, "vcpus": vcpus,
            "cpu_time_s": cpu, "managed": managed, "autostart": False,
            "on_poweroff": "destroy", "on_reboot": "restart", "on_crash": "restart",
            "config": 'name = "%s"\nmemory = %d\n' % (name, mem),
            **({"uptime_s": uptime} if uptime is not None else {})}


def reset():
    STATE["doms"] = [
        dom("Domain-0", 0, "running", 2048, 2, 301.6, uptime=5000.0,
            uid="00000000-0000-0000-0000-000000000000"),
        dom("web1", 1, "running", 256, 1, 12.3, uptime=93784.0),
        dom("db", 2, "paused", 512, 2, 4.0, uptime=65.0),
        dom("mail", None, "stopped", 128, 1, 0.0, managed=True),
    ]


def find(key):
    for d in STATE["doms"]:
        if d["name"] == key or d["uuid"] == key or (d["id"] is not None and str(d["id"]) == key):
            return d
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def err(self, code, msg):
        self.send_json(code, {"error": msg})

    def record(self, body):
        if ARGS.log:
            with open(ARGS.log, "a") as f:
                f.write(json.dumps({"method": self.command, "path": self.path, "body": body}) + "\n")

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 1 << 20:
            return None, "request too large"
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return {}, None
        try:
            return json.loads(raw), None
        except ValueError:
            return None, "malformed JSON"

    def do_GET(self):
        self.record(None)
        with LOCK:
            self.route("GET", {})

    def do_POST(self):
        body, e = self.read_body()
        self.record(body)
        if e:
            return self.err(400, e)
        with LOCK:
            self.route("POST", body)

    def do_DELETE(self):
        self.record(None)
        with LOCK:
            self.route("DELETE", {})

    def route(self, method, body):
        from urllib.parse import unquote
        parts = [unquote(p) for p in self.path.split("?")[0].split("/") if p]
        if parts[:1] != ["v1"]:
            return self.err(404, "no such resource")
        p = parts[1:]
        if p == ["host"] and method == "GET":
            return self.send_json(200, {
                "hostname": "fakehost", "release": "6.1.0", "version": "#1 SMP",
                "machine": "x86_64", "nr_cpus": 2, "cpu_mhz": 2400.0,
                "cpu_model": "Fake CPU", "total_memory_mib": 4096,
                "free_memory_mib": 1024, "virt_caps": "", "engines": ["emu", "kvm"],
                "xend_version": "0.1.0", "uptime_s": 5000.0})
        if p == ["events"] and method == "GET":
            return self.events()
        if p == ["domains"] and method == "GET":
            return self.send_json(200, STATE["doms"])
        if p == ["domains"] and method == "POST":
            return self.create(body)
        if len(p) < 2 or p[0] != "domains":
            return self.err(404, "no such resource")
        d = find(p[1])
        if d is None:
            return self.err(404, "Domain '%s' does not exist." % p[1])
        if len(p) == 2 and method == "GET":
            return self.send_json(200, d)
        if len(p) == 2 and method == "DELETE":
            if d["id"] == 0:
                return self.err(403, "Domain-0 cannot be modified")
            if d["id"] is not None:
                return self.err(409, "Domain '%s' is running" % d["name"])
            STATE["doms"].remove(d)
            return self.send_json(200, {})
        if len(p) != 3:
            return self.err(404, "no such resource")
        op = p[2]
        if method == "GET" and op == "console":
            return self.send_json(200, {"path": ARGS.socket + "." + d["name"] + ".console"})
        if method == "GET" and op == "log":
            return self.send_json(200, {"text": "vmm log of %s\nline two\n" % d["name"]})
        if method != "POST":
            return self.err(404, "no such resource")
        if d["id"] == 0:
            return self.err(403, "Domain-0 cannot be modified")
        running = d["id"] is not None
        if op == "start":
            if running:
                return self.err(409, "Domain '%s' is already running" % d["name"])
            d["id"] = STATE["next_id"]; STATE["next_id"] += 1
            d["state"] = "paused" if body.get("paused") else "running"
        elif not running:
            return self.err(409, "Domain '%s' is not running" % d["name"])
        elif op in ("shutdown", "destroy"):
            if d["managed"]:
                d["id"] = None; d["state"] = "stopped"; d["cpu_time_s"] = 0.0
            else:
                STATE["doms"].remove(d)
        elif op == "reboot":
            pass
        elif op == "pause":
            d["state"] = "paused"
        elif op == "unpause":
            d["state"] = "running"
        elif op == "mem":
            if "target_mib" in body:
                d["mem_mib"] = int(body["target_mib"])
            if "max_mib" in body:
                d["maxmem_mib"] = int(body["max_mib"])
        elif op == "vcpus":
            d["vcpus"] = int(body["count"])
        else:
            return self.err(404, "no such resource")
        return self.send_json(200, d)

    def create(self, body):
        cfg = body.get("config")
        if not isinstance(cfg, str):
            return self.err(400, "missing config")
        m = re.search(r'^\s*name\s*=\s*"([^"]*)"', cfg, re.M)
        name = m.group(1) if m else None
        mem = 128
        mm = re.search(r'^\s*memory\s*=\s*(\d+)', cfg, re.M)
        if mm:
            mem = int(mm.group(1))
        for o in body.get("overrides") or []:
            k, _, v = o.partition("=")
            if k == "name":
                name = v.strip('"')
            elif k == "memory":
                mem = int(v)
        if not name:
            return self.err(400, "config:1: name is required")
        if find(name):
            return self.err(409, "Domain '%s' already exists" % name)
        start = body.get("start", True)
        d = dom(name, None, "stopped", mem, 1, 0.0, managed=bool(body.get("managed")))
        d["config"] = cfg
        if start:
            d["id"] = STATE["next_id"]; STATE["next_id"] += 1
            d["state"] = "paused" if body.get("paused") else "running"
            d["uptime_s"] = 0.0
        STATE["doms"].append(d)
        return self.send_json(201, d)

    def events(self):
        # Close-delimited stream (HTTP/1.0 style): a few events then hold.
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for ev in ({"event": "started", "domain": "web1", "id": 1},
                   {"event": "paused", "domain": "db", "id": 2}):
            self.wfile.write((json.dumps(ev) + "\n").encode())
            self.wfile.flush()


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def console_server(path, name):
    """Replay a banner to each client, then echo what it sends in upper case."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(8)

    def client(c):
        with c:
            c.sendall(("console of %s\n" % name).encode())
            while True:
                data = c.recv(4096)
                if not data:
                    return
                c.sendall(data.upper())

    while True:
        c, _ = s.accept()
        threading.Thread(target=client, args=(c,), daemon=True).start()


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--log")
    ap.add_argument("--pidfile")
    ARGS = ap.parse_args()
    reset()
    try:
        os.unlink(ARGS.socket)
    except FileNotFoundError:
        pass
    srv = Server(ARGS.socket, Handler)
    for d in STATE["doms"][1:]:
        threading.Thread(target=console_server, args=(ARGS.socket + "." + d["name"] + ".console", d["name"]),
                         daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    if ARGS.pidfile:
        with open(ARGS.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    try:
        srv.serve_forever()
    finally:
        for p in [ARGS.socket] + [ARGS.socket + "." + d["name"] + ".console" for d in STATE["doms"]]:
            try:
                os.unlink(p)
            except OSError:
                pass


if __name__ == "__main__":
    main()
