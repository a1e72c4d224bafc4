"""moto_server, with DynamoDB requests handled one at a time, and S3's multipart answer named.

DynamoDB applies each write, condition included, atomically; moto evaluates a condition and
then applies the write in several steps, so two concurrent conditional writes can both pass
where DynamoDB lets only one. Serialising DynamoDB requests restores the guarantee that
mediaflow's conditional writes rely on; S3 and SQS (long polls) stay concurrent.

moto answers CompleteMultipartUpload with a `CompleteMultipartUploadResponse` element where S3
answers `CompleteMultipartUploadResult`, which the AWS SDKs refuse to parse; the answer is
renamed on its way out.

Usage: python3 moto_server.py HOST PORT
"""

import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

dynamodb = threading.Lock()
app = DomainDispatcherApplication(create_backend_app)


def multipart_completed(environ, start_response):
    answer = {}

    def keep(status, headers, exc_info=None):
        answer["status"], answer["headers"] = status, headers

    body = b"".join(app(environ, keep))
    if body.lstrip().startswith(b"<?xml"):
        body = body.replace(b"CompleteMultipartUploadResponse", b"CompleteMultipartUploadResult")
    headers = [(k, v) for k, v in answer["headers"] if k.lower() != "content-length"]
    start_response(answer["status"], headers + [("Content-Length", str(len(body)))])
    return [body]


def serialised(environ, start_response):
    if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
        with dynamodb:
            return list(app(environ, start_response))
    if environ.get("REQUEST_METHOD") == "POST" and "uploadId=" in environ.get("QUERY_STRING", ""):
        return multipart_completed(environ, start_response)
    return app(environ, start_response)


run_simple(sys.argv[1], int(sys.argv[2]), serialised, threaded=True, use_reloader=False)
