#!/usr/bin/env python3
"""A local HTTP server for the webhook tests: accepts POSTs on 127.0.0.1 and writes each one to a
folder as NNNN.json: {"path", "headers" (lower-case names), "body" (text)}; answers 200 "ok".

  webhook-sink.py --dir DIR [--port N] [--status CODE]

Prints "LISTENING <port>" once it accepts connections (port 0: a free one)."""
import argparse, json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--status", type=int, default=200)
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    count = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n).decode("utf-8", "replace")
            count[0] += 1
            record = {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
            tmp = os.path.join(a.dir, ".%04d.json" % count[0])
            with open(tmp, "w") as f:
                json.dump(record, f)
            os.rename(tmp, os.path.join(a.dir, "%04d.json" % count[0]))
            reply = b"ok\n"
            self.send_response(a.status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    print("LISTENING %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
