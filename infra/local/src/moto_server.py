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
`If-Match` and the operation's name in the query (`x-id=GetObject`, as the AWS SDKs send it),
is answered from the stored object a MiB at a time, so that reading a large upload in ranges
costs what it costs on S3. Everything else is moto's.

With IAM enforced (moto's `/moto-api/reset-auth`, INITIAL_NO_AUTH_ACTION_COUNT), moto checks a
DynamoDB request as one action on every resource ("*") and a CloudFormation one likewise, so no
policy scoped to a table or a stack could allow them. DynamoDB checks the table (or index) a
request names, and each item's own action in a transaction (PutItem, UpdateItem,
ConditionCheckItem…); the handlers below authorise requests that way, and DescribeStacks on the
stack's ARN. moto recomputes an S3 request's signature from a query string it encodes again, and
gets it wrong for some (a `prefix` holding "/"): S3 requests are authorised as the principal
their access key names, without checking their signature. A refused DynamoDB request is answered
in JSON, as DynamoDB answers it (moto answers in IAM's XML, which the SDKs cannot read).

moto answers ListMultipartUploads with one fixed date (2010) for every upload; S3 says when each
began, which the audit reads to tell an abandoned upload from one still being sent. Each upload's
start is kept as it is begun and put in the answer (an upload begun before a restart keeps moto's
date).

moto answers a Query by sorting and reading the whole table, so that a stack slows as its jobs
table grows (150 ms a query at 12,000 items); a query is handed only the items its key names
(4 ms for a job's tasks, a third of the time for an index).

moto's SQS asks the time, as a datetime, for every queued message each time it looks at a queue
(several times a receive): with 2,000 events queued a receive and its delete took 1.5 s. It is
asked of `time.time()` instead, the same number (0.2 s).

The server stops when its standard input closes: the process that started it holds the other
end, so the server never outlives it, however that process ends.

Given a STATE file, the server restarts as a storage service does: on SIGTERM it stops taking
requests (those that arrive hang until the process is gone, and their connections close
unanswered), lets the ones in flight finish, writes everything it holds to STATE and exits; a
server started with the same STATE reads it back before it listens.

Usage: python3 moto_server.py HOST PORT [STATE]
"""

import collections
import functools
import json
import os
import pickle
import re
import signal
import sys
import threading
import time
import traceback
from urllib.parse import parse_qs, urlparse

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

dynamodb = threading.Lock()
app = DomainDispatcherApplication(create_backend_app)

TRANSACTED = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


def dynamodb_checks(handler):
    """The (action, resource) pairs DynamoDB authorises a request by."""
    params = handler.body if isinstance(handler.body, dict) else {}
    action = handler._get_action()

    def arn(table, index=None):
        table_arn = f"arn:aws:dynamodb:{handler.region}:{handler.current_account}:table/{table}"
        return f"{table_arn}/index/{index}" if index else table_arn

    if action == "TransactWriteItems":
        return [(TRANSACTED[kind], arn(op["TableName"])) for item in params["TransactItems"] for kind, op in item.items()]
    if action == "TransactGetItems":
        return [("GetItem", arn(item["Get"]["TableName"])) for item in params["TransactItems"]]
    if action in ("BatchWriteItem", "BatchGetItem"):
        return [(action, arn(table)) for table in params["RequestItems"]]
    if "TableName" in params:
        return [(action, arn(params["TableName"], params.get("IndexName")))]
    return [(action, "*")]


def authorise_per_resource(checks):
    """An `_authenticate_and_authorize_normal_action` that checks each of `checks(handler)`."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMRequest

    def authorise(handler, _resource="*"):
        if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
            ActionAuthenticatorMixin.request_count += 1
            return
        for action, resource in checks(handler):
            request = IAMRequest(account_id=handler.current_account, method=handler.method,
                                 path=urlparse(handler.uri).path, data=handler.data, body=handler.raw_body,
                                 headers=handler.headers, action=action)
            request.check_signature()
            request.check_action_permitted(resource)

    return authorise


def stack_checks(handler):
    from moto.cloudformation.models import cloudformation_backends

    action, name = handler._get_action(), handler._get_param("StackName")
    try:
        stack = cloudformation_backends[handler.current_account][handler.region].get_stack(name)
        return [(action, stack.stack_id)]
    except Exception:  # noqa: BLE001 (no such stack: only a policy on every stack allows it)
        return [(action, "*")]


def queries_without_sorting_the_table():
    """moto answers every Query by sorting the whole table and reading it all (a primary key's
    items included), which DynamoDB reads from one partition; the items a query's key names are
    handed to it instead, and it sorts only those."""
    from moto.dynamodb.models.table import Table

    original = Table.query

    def query(self, hash_key, *args, **kwargs):
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if not self.range_key_attr:
            return original(self, hash_key, *args, **kwargs)
        if index_name is None:
            found = list(self.items.get(hash_key, {}).values())
        else:
            wanted = [(name, value.type, value.value) for name, value in kwargs.get("hash_key_conditions") or []]

            def matches(item):
                return all(
                    (got := item.attrs.get(name)) is not None and got.type == kind and got.value == value
                    for name, kind, value in wanted
                )

            found = [item for items in self.items.values() for item in items.values() if matches(item)]
        # DynamoDB requests are handled one at a time (see `serialised`): nothing else sees this.
        self.all_items = lambda: found
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    Table.query = query


queries_without_sorting_the_table()


def queues_on_a_cheap_clock():
    """SQS's clock for message visibility and delays, without a datetime each time."""
    from moto.core.utils import unix_time_millis
    from moto.sqs import models

    models.unix_time_millis = lambda dt=None: time.time() * 1000.0 if dt is None else unix_time_millis(dt)


queues_on_a_cheap_clock()


BEGUN = {}


def uploads_kept_with_their_start():
    from moto.s3.models import FakeMultipart

    original = FakeMultipart.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        BEGUN[self.id] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())

    FakeMultipart.__init__ = init


uploads_kept_with_their_start()


def uploads_listed_with_their_start(status, body):
    def dated(upload):
        block = upload[0]
        begun = BEGUN.get(re.search(rb"<UploadId>(.*?)</UploadId>", block)[1].decode())
        return re.sub(rb"<Initiated>.*?</Initiated>", f"<Initiated>{begun}</Initiated>".encode(), block) if begun else block

    return re.sub(rb"<Upload>.*?</Upload>", dated, body, flags=re.S)


def authorise_as_aws_does():
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.dynamodb.responses import DynamoHandler
    from moto.iam.access_control import S3IAMRequest

    S3IAMRequest.check_signature = lambda _request: None
    DynamoHandler._authenticate_and_authorize_normal_action = authorise_per_resource(dynamodb_checks)
    CloudFormationResponse._authenticate_and_authorize_normal_action = authorise_per_resource(stack_checks)


authorise_as_aws_does()


def rewritten(environ, start_response, rewrite):
    """moto's answer, with its body passed through `rewrite(status, body)`."""
    answer = {}

    def keep(status, headers, exc_info=None):
        answer["status"], answer["headers"] = status, headers

    body = b"".join(app(environ, keep))
    body = rewrite(answer["status"], body)
    headers = [(k, v) for k, v in answer["headers"] if k.lower() not in ("content-length", "content-type")]
    content_type = dict((k.lower(), v) for k, v in answer["headers"]).get("content-type", "text/xml")
    if body.startswith(b"{"):
        content_type = "application/x-amz-json-1.0"
    start_response(answer["status"], headers + [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def multipart_completed(status, body):
    if body.lstrip().startswith(b"<?xml"):
        body = body.replace(b"CompleteMultipartUploadResponse", b"CompleteMultipartUploadResult")
    return body


def dynamodb_json_errors(status, body):
    """moto answers a refused DynamoDB request in IAM's XML; DynamoDB answers in JSON."""
    refused = re.search(rb"<Code>(\w+)</Code><Message>(.*?)</Message>", body)
    if not status.startswith("403") or not refused:
        return body
    kind = "AccessDeniedException" if refused[1] == b"AccessDenied" else refused[1].decode()
    return json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{kind}", "message": refused[2].decode()}).encode()


LARGE = 64 * 1024 * 1024
STEP = 1024 * 1024
PASSED_ON = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE",
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
    # The AWS SDKs name the operation in the query (`x-id=GetObject`); any other parameter
    # (a version, a part, a response header) is moto's to answer.
    if set(parse_qs(environ.get("QUERY_STRING", ""), True)) - {"x-id"}:
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
    """Every request, counted in flight until its answer is written (see `save_and_exit`)."""
    with in_flight:
        if stopping.is_set():
            in_flight.wait_for(lambda: False)
        in_flight.count += 1
    try:
        return Answered(handled(environ, start_response))
    except BaseException:
        answered()
        raise


def answered():
    with in_flight:
        in_flight.count -= 1
        in_flight.notify_all()


class Answered:
    """An answer's body; the server closes it once the answer is written."""

    def __init__(self, body):
        self.body = body

    def __iter__(self):
        return iter(self.body)

    def close(self):
        try:
            getattr(self.body, "close", lambda: None)()
        finally:
            answered()


def handled(environ, start_response):
    if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
        with dynamodb:
            return rewritten(environ, start_response, dynamodb_json_errors)
    if environ.get("REQUEST_METHOD") == "POST" and "uploadId=" in environ.get("QUERY_STRING", ""):
        return rewritten(environ, start_response, multipart_completed)
    if environ.get("REQUEST_METHOD") == "GET" and "uploads" in parse_qs(environ.get("QUERY_STRING", ""), True):
        return rewritten(environ, start_response, uploads_listed_with_their_start)
    return ranged_read(environ, start_response) or app(environ, start_response)


stopping = threading.Event()
in_flight = threading.Condition()
in_flight.count = 0


def versioned_keys(lists):
    """A bucket's keys, every version of each kept (see `StatePickler`)."""
    from moto.s3.utils import _VersionedKeyStore

    store = _VersionedKeyStore()
    for name, versions in lists.items():
        store.setlist(name, versions)
    return store


def empty_defaultdict(kind, factory):
    """An empty `kind` (a defaultdict, or a subclass of one) whose missing keys `factory` makes."""
    made = kind.__new__(kind)
    collections.defaultdict.__init__(made, factory)
    return made


class StatePickler(pickle.Pickler):
    """Pickles moto's backends. Their locks are pickled as new, unheld locks; a bucket's keys
    with all their versions (pickle would keep the latest: their store lists only those); a
    defaultdict without calling its class (SSM's parameters take other arguments), and one made
    by `lambda: defaultdict(f)` (SSM's tags) with a factory that pickle can name."""

    LOCKS = (type(threading.Lock()), type(threading.RLock()))

    def reducer_override(self, obj):
        from moto.s3.utils import _VersionedKeyStore

        if isinstance(obj, self.LOCKS):
            return (threading.RLock if isinstance(obj, self.LOCKS[1]) else threading.Lock), ()
        if isinstance(obj, _VersionedKeyStore):
            return versioned_keys, (dict(obj.iterlists()),)
        if isinstance(obj, collections.defaultdict):
            factory = obj.default_factory
            if getattr(factory, "__name__", "") == "<lambda>":
                sample = factory()
                if isinstance(sample, collections.defaultdict):
                    factory = functools.partial(collections.defaultdict, sample.default_factory)
            if type(obj) is collections.defaultdict and factory is obj.default_factory:
                return NotImplemented
            return empty_defaultdict, (type(obj), factory), getattr(obj, "__dict__", None) or None, None, iter(dict.items(obj))
        return NotImplemented


def held_state():
    """Every backend in use, by service, account and region, and the IAM enforcement's counts."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.base_backend import BackendDict

    backends = {
        dicts.backend: {account: dict(regions) for account, regions in dicts.items()}
        for dicts in BackendDict._instances
    }
    return {"backends": backends, "no_auth": settings.INITIAL_NO_AUTH_ACTION_COUNT,
            "requests": ActionAuthenticatorMixin.request_count}


def save_and_exit(state, *_signal):
    """Stops taking requests, waits (up to 10 s) for those in flight, writes the state, exits."""
    stopping.set()
    with in_flight:
        in_flight.wait_for(lambda: in_flight.count == 0, timeout=10)
    for _attempt in range(5):
        try:
            with open(state + ".new", "wb") as out:
                StatePickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(held_state())
            os.replace(state + ".new", state)
            os._exit(0)
        except RuntimeError:  # a long poll changed a queue while it was written: again
            time.sleep(0.1)
        except Exception:  # noqa: BLE001 (said in the log; the restarted server would hold nothing)
            traceback.print_exc()
            break
    os._exit(1)


def restore(state):
    """Puts back the backends a server saved in `state` before it exited."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.base_backend import BackendDict

    with open(state, "rb") as saved:
        held = pickle.load(saved)
    for kind, accounts in held["backends"].items():
        module = vars(sys.modules[kind.__module__])
        live = next(d for d in module.values() if isinstance(d, BackendDict) and d.backend is kind)
        for account, regions in accounts.items():
            for region, backend in regions.items():
                live[account][region] = backend
    settings.INITIAL_NO_AUTH_ACTION_COUNT = held["no_auth"]
    ActionAuthenticatorMixin.request_count = held["requests"]


def stop_with_parent():
    sys.stdin.buffer.read()
    os._exit(0)


threading.Thread(target=stop_with_parent, daemon=True).start()
if len(sys.argv) > 3:
    if os.path.exists(sys.argv[3]):
        restore(sys.argv[3])
    signal.signal(signal.SIGTERM, lambda *_: save_and_exit(sys.argv[3]))
run_simple(sys.argv[1], int(sys.argv[2]), serialised, threaded=True, use_reloader=False)
