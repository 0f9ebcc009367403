"""An OTLP/HTTP sink for the overhead runs: accepts any POST, reads the body, answers 200.

Stands in for an OpenTelemetry Collector on loopback so that the gateway's exporters do all
their work (serialise, send over HTTP) without a collector's own cost on this 2-core machine.
Prints the requests and bytes received when stopped.
"""
import http.server
import signal
import socketserver
import sys

received = {"requests": 0, "bytes": 0}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        received["requests"] += 1
        received["bytes"] += length
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    server = Server(("127.0.0.1", int(sys.argv[1])), Handler)

    def stop(*_):
        print(f"otlp sink: {received['requests']} requests, {received['bytes']} bytes", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    server.serve_forever()


if __name__ == "__main__":
    main()
