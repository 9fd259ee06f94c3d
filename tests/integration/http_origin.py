#!/usr/bin/env python3
"""A local HTTP origin for edgepipe's HTTP source tests and benchmarks (python3 stdlib only).

Binds 127.0.0.1 on an ephemeral port (or --port) and prints the port on stdout's first line.
Routes by the first path segment; counters are kept per full path (without the query), so
/iss/a and /iss/b are independent sources. Parameters come from the query string.

  /iss[/...]          ISS-like object, timestamp = 1700000000 + n (n = request count on the path)
  /coins[/...]        CoinGecko-like array of ?n=3 coins; last_updated advances per request
  /ratelimited[/...]  429 with Retry-After: ?after=2 for the first ?k=3 requests, then ISS-like 200
                      (?date=1: Retry-After as an HTTP-date, now + after)
  /flaky[/...]        500 for the first ?burst=3 requests, then ISS-like 200
  /slow[/...]         sleeps ?sleep=3 seconds before answering (longer than the source's timeout)
  /truncated[/...]    200 with a Content-Length larger than what is sent, then closes the connection
  /invalid[/...]      200 with a body that is not valid JSON
  /html[/...]         200 with an HTML error page (Content-Type: text/html), not JSON
  /redirect[/...]     302 to the same path with ?hops=N-1 while ?hops=N > 0, then ISS-like 200
                      (?hops=50: more hops than any client should follow)
  /stall[/...]        200 with a Content-Length, half the ISS-like body, then ?sleep=5 seconds of
                      silence (longer than the source's timeout)
  /large[/...]        200 with a valid JSON body of ?size=65536 bytes
  /endless[/...]      200 with an endless chunked body (stops after ?cap=64 MiB or when the client goes)
  /gzip[/...]         ISS-like body, Content-Encoding: gzip when Accept-Encoding allows it
  /etag[/...]         a fixed ISS-like body with ETag "v1"; 304 when If-None-Match matches
  /_log               JSON array of every request so far (path, arrival and finish time, status,
                      headers of interest); /_log?path=/x filters by path
  /_reset             forget the log and the counters
"""

import argparse
import email.utils
import gzip
import json
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
COUNTS = {}  # path -> requests seen
LOG = []  # dicts, in arrival order
INTERESTING = ("If-None-Match", "If-Modified-Since", "Accept-Encoding", "User-Agent")


def iss_body(n):
    # Deterministic: the same request number gives the same bytes (record/replay compare).
    lat = ((n * 7) % 180) - 90 + 0.5
    lon = ((n * 13) % 360) - 180 + 0.25
    return json.dumps({"message": "success", "timestamp": 1700000000 + n,
                       "iss_position": {"latitude": "%.4f" % lat,
                                        "longitude": "%.4f" % lon}}).encode()


def coins_body(n, count):
    coins = []
    for i in range(count):
        coins.append({
            "id": "coin-%d" % i, "symbol": "c%d" % i, "name": "Coin %d" % i,
            "current_price": 100.0 + i + n / 100.0, "market_cap": 1e9 + i * 1e6 + n,
            "market_cap_rank": i + 1, "total_volume": 5e6 + n, "high_24h": 110.5, "low_24h": 90.25,
            "price_change_percentage_24h": None if i == 2 else 1.5,
            "circulating_supply": 21e6,
            "last_updated": "2023-11-14T22:%02d:%02d.000Z" % ((n // 60) % 60, n % 60),
        })
    return json.dumps(coins).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real API
    server_version = "edgepipe-test-origin/1"
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle + the client's delayed
    # ACK add ~40 ms to every response (and would dominate the benchmark's request latency).
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet
        pass

    def _entry(self, path, n):
        e = {"path": path, "n": n, "t": self._arrival, "status": None, "done": None}
        for h in INTERESTING:
            v = self.headers.get(h)
            if v is not None:
                e[h.lower()] = v
        return e

    def _send(self, status, body=b"", headers=None, entry=None):
        self.send_response(status)
        hdrs = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        hdrs.update(headers or {})
        for k, v in hdrs.items():
            self.send_header(k, v)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()
        if entry is not None:
            entry["status"] = status
            entry["done"] = time.time()

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self._arrival = time.time()
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        first = path.strip("/").split("/")[0]
        if first == "_log":
            with LOCK:
                items = [dict(e) for e in LOG if "path" not in q or e["path"] == q["path"]]
            self._send(200, json.dumps(items).encode())
            return
        if first == "_reset":
            with LOCK:
                LOG.clear()
                COUNTS.clear()
            self._send(200, b"{}")
            return
        with LOCK:
            n = COUNTS.get(path, 0) + 1
            COUNTS[path] = n
            entry = self._entry(path, n)
            LOG.append(entry)
        try:
            self._route(first, n, q, entry)
        except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError):
            entry["status"] = entry["status"] or "client-gone"
            entry["done"] = entry["done"] or time.time()
            self.close_connection = True

    def _route(self, first, n, q, entry):
        if first == "iss":
            self._send(200, iss_body(n), entry=entry)
        elif first == "coins":
            self._send(200, coins_body(n, int(q.get("n", "3"))), entry=entry)
        elif first == "ratelimited":
            if n <= int(q.get("k", "3")):
                after = q.get("after", "2")
                if q.get("date"):  # the HTTP-date form of Retry-After
                    after = email.utils.formatdate(time.time() + float(after), usegmt=True)
                self._send(429, b'{"error":"rate limited"}', {"Retry-After": after}, entry=entry)
            else:
                self._send(200, iss_body(n), entry=entry)
        elif first == "flaky":
            if n <= int(q.get("burst", "3")):
                self._send(500, b'{"error":"internal"}', entry=entry)
            else:
                self._send(200, iss_body(n), entry=entry)
        elif first == "slow":
            time.sleep(float(q.get("sleep", "3")))  # the origin misbehaving (slow), polled with a deadline by the test
            self._send(200, iss_body(n), entry=entry)
        elif first == "truncated":
            body = iss_body(n)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) + 100))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            entry["status"] = 200
            entry["done"] = time.time()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        elif first == "html":
            self._send(200, b"<html><body><h1>502 Bad Gateway</h1></body></html>",
                       {"Content-Type": "text/html"}, entry=entry)
        elif first == "redirect":
            hops = int(q.get("hops", "0"))
            if hops > 0:
                url = urllib.parse.urlsplit(self.path)
                self._send(302, b"", {"Location": "%s?hops=%d" % (url.path, hops - 1)},
                           entry=entry)
            else:
                self._send(200, iss_body(n), entry=entry)
        elif first == "stall":
            body = iss_body(n)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            entry["status"] = 200
            time.sleep(float(q.get("sleep", "5")))  # the origin stalling mid-body
            self.wfile.write(body[len(body) // 2:])
            self.wfile.flush()
            entry["done"] = time.time()
        elif first == "invalid":
            self._send(200, b'{"message":"success","timestamp":17000,"iss_position":{"latitude":',
                       entry=entry)
        elif first == "large":
            size = int(q.get("size", "65536"))
            pad = "x" * max(0, size - 80)
            body = json.dumps({"message": "success", "timestamp": 1700000000 + n,
                               "pad": pad}).encode()
            self._send(200, body, entry=entry)
        elif first == "endless":
            cap = int(q.get("cap", str(64 << 20)))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"[" + b'{"a":1},' * 1024
            sent = 0
            entry["status"] = 200
            while sent < cap:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
                chunk = b'{"a":1},' * 1024
            self.wfile.write(b"0\r\n\r\n")
            entry["done"] = time.time()
            self.close_connection = True
        elif first == "gzip":
            body = iss_body(n)
            accept = self.headers.get("Accept-Encoding", "")
            if "gzip" in [a.split(";")[0].strip() for a in accept.split(",")]:
                entry["encoding"] = "gzip"
                self._send(200, gzip.compress(body, mtime=0),
                           {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}, entry=entry)
            else:
                entry["encoding"] = "identity"
                self._send(200, body, entry=entry)
        elif first == "etag":
            tag = '"v1"'
            if self.headers.get("If-None-Match") == tag:
                self._send(304, b"", {"ETag": tag}, entry=entry)
            else:
                self._send(200, iss_body(1), {"ETag": tag}, entry=entry)
        else:
            self._send(404, b'{"error":"no such path"}', entry=entry)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        pass  # clients that time out or hang up mid-request are part of the test


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    srv = Server(("127.0.0.1", args.port), Handler)
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
