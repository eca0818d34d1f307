#!/usr/bin/env python3
"""The client side of `ledgerflow-bench http`, run as a second process on loopback (stdlib only).

  http-bench-client.py get URL
      One GET; prints the body.
  http-bench-client.py timing URL N
      N GETs over one keep-alive connection; prints {"server_ms": [...], "client_ms": [...]}
      (server_ms from each response's Server-Timing header).
  http-bench-client.py load URL --seconds S --connections C
      C keep-alive connections sending GET URL back to back for S seconds; prints
      {"requests": R, "seconds": S, "rps": R/S, "errors": E}.
  http-bench-client.py sse URL --clients N --events K
      N event-stream connections; prints READY once each has its preamble, then waits for K
      events (ids) on every connection and prints {"received": {ID: [unix seconds, ...]}}.
"""
import asyncio, json, sys, time, argparse, http.client
from urllib.parse import urlsplit


def get(url):
    u = urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    c.request("GET", u.path + ("?" + u.query if u.query else ""))
    r = c.getresponse()
    print(r.read().decode(), flush=True)


def timing(url, n):
    u = urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    path = u.path + ("?" + u.query if u.query else "")
    server, client = [], []
    for _ in range(n):
        t = time.perf_counter()
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        client.append((time.perf_counter() - t) * 1000)
        st = r.getheader("Server-Timing") or ""
        if "dur=" in st:
            server.append(float(st.split("dur=")[1].split(";")[0].split(",")[0]))
        if r.status != 200:
            print(json.dumps({"error": r.status}), flush=True)
            sys.exit(1)
    print(json.dumps({"server_ms": server, "client_ms": client}), flush=True)


async def load(url, seconds, connections):
    u = urlsplit(url)
    path = u.path + ("?" + u.query if u.query else "")
    req = f"GET {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n\r\n".encode()
    count, errors = 0, 0
    deadline = time.perf_counter() + seconds

    async def worker():
        nonlocal count, errors
        reader, writer = await asyncio.open_connection(u.hostname, u.port)
        try:
            while time.perf_counter() < deadline:
                writer.write(req)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if length:
                    await reader.readexactly(length)
                if not head.startswith(b"HTTP/1.1 200"):
                    errors += 1
                count += 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    took = time.perf_counter() - start
    print(json.dumps({"requests": count, "seconds": took, "rps": count / took, "errors": errors}), flush=True)


async def sse(url, clients, events):
    u = urlsplit(url)
    path = u.path + ("?" + u.query if u.query else "")
    received = {}
    ready = 0
    all_ready = asyncio.Event()

    async def client():
        nonlocal ready
        reader, writer = await asyncio.open_connection(u.hostname, u.port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nAccept: text/event-stream\r\n\r\n".encode())
        await reader.readuntil(b"\r\n\r\n")
        seen, counted = 0, False
        buf = b""
        while seen < events:
            chunk = await reader.read(65536)
            if not chunk:
                break
            now = time.time()
            buf += chunk
            if not counted and b"ledgerflow events after" in buf:
                counted = True
                ready += 1
                if ready == clients:
                    all_ready.set()
            for line in buf.split(b"\n")[:-1]:
                if line.startswith(b"id: "):
                    received.setdefault(line[4:].decode().strip(), []).append(now)
                    seen += 1
            buf = buf.split(b"\n")[-1]
        writer.close()

    tasks = [asyncio.create_task(client()) for _ in range(clients)]
    await all_ready.wait()
    print("READY", flush=True)
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
    print(json.dumps({"received": received}), flush=True)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("get"); g.add_argument("url")
    t = sub.add_parser("timing"); t.add_argument("url"); t.add_argument("n", type=int)
    l = sub.add_parser("load"); l.add_argument("url"); l.add_argument("--seconds", type=float, default=5); l.add_argument("--connections", type=int, default=16)
    s = sub.add_parser("sse"); s.add_argument("url"); s.add_argument("--clients", type=int, default=200); s.add_argument("--events", type=int, default=20)
    a = p.parse_args()
    if a.cmd == "get":
        get(a.url)
    elif a.cmd == "timing":
        timing(a.url, a.n)
    elif a.cmd == "load":
        asyncio.run(load(a.url, a.seconds, a.connections))
    else:
        asyncio.run(sse(a.url, a.clients, a.events))


if __name__ == "__main__":
    main()
