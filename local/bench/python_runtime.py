"""The Python comparison of local/bench/init.py: the shape of a Python Lambda function that makes
one AWS call per event (boto3 imported and its client built at init, as Lambda's Python guides
advise), with the Runtime API loop that Lambda's Python runtime runs, over http.client."""

import http.client
import json
import os

import boto3
from botocore.config import Config

s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))

api = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
while True:
    api.request("GET", "/2018-06-01/runtime/invocation/next")
    response = api.getresponse()
    event = json.loads(response.read())
    request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
    s3.head_bucket(Bucket="dst-photos")
    body = json.dumps({"ok": True, "keys": len(event)})
    api.request("POST", "/2018-06-01/runtime/invocation/%s/response" % request_id, body)
    api.getresponse().read()
