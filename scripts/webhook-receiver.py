#!/usr/bin/env python3
"""A webhook receiver for trying mediaflow's notifications locally: checks each request's
Standard Webhooks signature with the reference library and prints the event.

    pip install standardwebhooks
    python3 scripts/webhook-receiver.py PORT SECRET_FILE
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

port, secret_file = int(sys.argv[1]), sys.argv[2]
webhook = Webhook(open(secret_file).read().strip())


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        try:
            event = webhook.verify(body, dict(self.headers))
        except WebhookVerificationError as error:
            print(f"refused: {error}", flush=True)
            self.send_response(401)
            self.end_headers()
            return
        task = event["workflow_task"]
        print(f"{event['event_id']}: {event['reason']} {task['status']} {task['result'] or ''}", flush=True)
        for result in task["results"]:
            error = result["error"]["code"] if result["error"] else ""
            outputs = ", ".join(f"s3://{o['bucket']}/{o['key']}" for o in result["outputs"])
            print(f"  task {result['index']} {result['type']}: {result['status']} {error} {outputs}", flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", port), Receiver).serve_forever()
