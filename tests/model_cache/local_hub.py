#!/usr/bin/env python3
"""A local stand-in for the Hugging Face Hub in the model cache tests.

Serves ROOT on 127.0.0.1:PORT with HTTP Range support. Paths containing "flaky" send half of
their body on the first request and then drop the connection (an interrupted download); later
requests are served, honouring Range (the resume). Paths containing "error500" answer 500.
Every request is logged to ROOT/../requests.log as "METHOD PATH RANGE".
usage: local_hub.py ROOT PORT
"""
import http.server
import os
import sys

root, port = sys.argv[1], int(sys.argv[2])
log_path = os.path.join(os.path.dirname(os.path.abspath(root)), "requests.log")
served_once = set()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        rng = self.headers.get("Range", "")
        with open(log_path, "a") as log:
            log.write(f"GET {self.path} {rng}\n")
        if "error500" in self.path:
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path = os.path.join(root, self.path.lstrip("/"))
        if not os.path.isfile(path):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = open(path, "rb").read()
        start = 0
        if rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if "flaky" in self.path and self.path not in served_once:
            served_once.add(self.path)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
