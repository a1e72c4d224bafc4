"""moto_server, with DynamoDB requests handled one at a time, and S3's multipart answer named.

DynamoDB applies each write, condition included, atomically; moto evaluates a condition and
then applies the write in several steps, so two concurrent conditional writes can both pass
where DynamoDB lets only one. Serialising DynamoDB requests restores the guarantee that
mediaflow's conditional writes rely on; S3 and SQS (long polls) stay concurrent.

moto answers CompleteMultipartUpload with a `CompleteMultipartUploadResponse` element where S3
answers `CompleteMultipartUploadResult`, which the AWS SDKs refuse to parse; the answer is
renamed on its way out.

moto answers a ranged GET by copying the whole object and slicing it (1.5 s per request on a
1 GB object); S3 reads only the range. A ranged GET of a large object, by path, with at most
`If-Match`, is answered from the stored object a MiB at a time, so that reading a large upload
in ranges costs what it costs on S3. Everything else is moto's.

The server stops when its standard input closes: the process that started it holds the other
end, so the server never outlives it, however that process ends.

Usage: python3 moto_server.py HOST PORT
"""

import os
import re
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


LARGE = 64 * 1024 * 1024
STEP = 1024 * 1024
PASSED_ON = ("QUERY_STRING", "HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE",
             "HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION_CUSTOMER_ALGORITHM", "HTTP_X_AMZ_TARGET")


def stored_key(environ):
    """The latest version of the object a path-style request names, if moto holds it."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import FakeKey, s3_backends

    path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace").lstrip("/")
    bucket_name, _, name = path.partition("/")
    bucket = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets.get(bucket_name)
    key = bucket.keys.get(name) if bucket and name else None
    return key if isinstance(key, FakeKey) else None


def ranged_read(environ, start_response):
    """A ranged GET of a large stored object, streamed from its buffer; None to leave it to moto."""
    wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", environ.get("HTTP_RANGE", ""))
    if environ.get("REQUEST_METHOD") != "GET" or not wanted or any(environ.get(h) for h in PASSED_ON):
        return None
    key = stored_key(environ)
    if key is None or key.size < LARGE:
        return None
    if_match = environ.get("HTTP_IF_MATCH")
    if if_match and if_match.strip('"') != key.etag.strip('"'):
        return None
    begin, end = int(wanted[1]), min(int(wanted[2] or key.size - 1), key.size - 1)
    if begin > end:
        return None
    headers = {**key.metadata, **key.response_dict}
    headers = [(k, str(v)) for k, v in headers.items() if not k.lower().startswith(("x-amz-checksum", "content-length"))]
    headers += [("Content-Length", str(end - begin + 1)), ("Content-Range", f"bytes {begin}-{end}/{key.size}"),
                ("Accept-Ranges", "bytes")]
    start_response("206 Partial Content", headers)

    def body(at=begin):
        while at <= end:
            with key.lock:
                key._value_buffer.seek(at)
                chunk = key._value_buffer.read(min(STEP, end + 1 - at))
            if not chunk:
                return
            at += len(chunk)
            yield chunk

    return body()


def serialised(environ, start_response):
    if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
        with dynamodb:
            return list(app(environ, start_response))
    if environ.get("REQUEST_METHOD") == "POST" and "uploadId=" in environ.get("QUERY_STRING", ""):
        return multipart_completed(environ, start_response)
    return ranged_read(environ, start_response) or app(environ, start_response)


def stop_with_parent():
    sys.stdin.buffer.read()
    os._exit(0)


threading.Thread(target=stop_with_parent, daemon=True).start()
run_simple(sys.argv[1], int(sys.argv[2]), serialised, threaded=True, use_reloader=False)
