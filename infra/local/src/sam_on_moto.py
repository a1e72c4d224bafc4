#!/usr/bin/env python3
"""Creates template.yaml as a CloudFormation stack on a moto server, as `sam deploy` would.

Usage: sam_on_moto.py TEMPLATE ENDPOINT [STACK_NAME]
       sam_on_moto.py --translate TEMPLATE OUT   (only writes the translated template, as JSON)

The SAM template is translated offline with aws-sam-translator (the functions' and the layer's
local code locations replaced by S3 URIs of placeholder zips), then created with CreateStack on
moto's CloudFormation. Prints one JSON document: the stack's status, how many resources the
translation made, and the stack's outputs (what `mediaflow --stack NAME` reads). Exit code 0 only
when the stack is CREATE_COMPLETE.

moto creates the tables, queues, buckets, roles and functions (it does not run the functions:
that needs Docker), and skips a few resource types it does not model (queue and bucket policies,
the worker's event invoke configuration) with a warning.

Needs: aws-sam-translator, boto3, PyYAML (scripts/setup.sh installs them).
"""

import io
import json
import os
import sys
import time
import zipfile

import boto3
import yaml

os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
REGION = "us-east-1"
CODE_BUCKET = "mediaflow-code"


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form intrinsics (!Ref, !GetAtt A.B, !Sub …)."""


def _intrinsic(loader, _suffix, node):
    tag = node.tag[1:]
    name = tag if tag in ("Ref", "Condition") else "Fn::" + tag
    if tag == "GetAtt" and isinstance(node, yaml.ScalarNode):
        return {name: loader.construct_scalar(node).split(".", 1)}
    if isinstance(node, yaml.ScalarNode):
        return {name: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {name: loader.construct_sequence(node, deep=True)}
    return {name: loader.construct_mapping(node, deep=True)}


CfnLoader.add_multi_constructor("!", _intrinsic)


def code_uris_in_s3(template):
    """Points every function and layer at s3://CODE_BUCKET/<name>.zip; returns the keys."""
    keys = []
    ((template.get("Globals") or {}).get("Function") or {}).pop("CodeUri", None)
    for logical_id, resource in template["Resources"].items():
        kind = resource.get("Type")
        if kind not in ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion"):
            continue
        binary = ((resource.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
        key = f"{binary or logical_id.lower()}.zip"
        field = "CodeUri" if kind == "AWS::Serverless::Function" else "ContentUri"
        resource.setdefault("Properties", {})[field] = f"s3://{CODE_BUCKET}/{key}"
        keys.append(key)
    return keys


def translate(template):
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    # The session only gives the region; a static policy map keeps the translator off IAM.
    translator = Translator(
        managed_policy_map=None, sam_parser=Parser(), boto_session=boto3.session.Session(region_name=REGION)
    )
    policies = {"AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}
    return translator.translate(template, parameter_values={}, get_managed_policy_map=lambda: policies)


def placeholder_zip():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bootstrap", "#!/bin/sh\n")
    return buffer.getvalue()


def translate_only(template_path, out_path):
    """What `sam package` and CloudFormation's transform make of the template, for checks of it."""
    with open(template_path) as file:
        sam = yaml.load(file, Loader=CfnLoader)  # noqa: S506 (a SafeLoader)
    code_uris_in_s3(sam)
    with open(out_path, "w") as out:
        json.dump(translate(sam), out, indent=1)


def main():
    if sys.argv[1] == "--translate":
        return translate_only(sys.argv[2], sys.argv[3])
    template_path, endpoint = sys.argv[1], sys.argv[2]
    stack_name = sys.argv[3] if len(sys.argv) > 3 else "mediaflow"
    started = time.monotonic()
    with open(template_path) as file:
        sam = yaml.load(file, Loader=CfnLoader)  # noqa: S506 (a SafeLoader)
    keys = code_uris_in_s3(sam)
    cfn = translate(sam)
    session = boto3.session.Session(region_name=REGION)
    s3 = session.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=CODE_BUCKET)
    for key in keys:
        s3.put_object(Bucket=CODE_BUCKET, Key=key, Body=placeholder_zip())
    cloudformation = session.client("cloudformation", endpoint_url=endpoint)
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(cfn),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    while True:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() - started > 120:
            break
        time.sleep(0.2)
    json.dump(
        {
            "StackStatus": stack["StackStatus"],
            "Resources": len(cfn["Resources"]),
            "Outputs": {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])},
            "Seconds": round(time.monotonic() - started, 2),
        },
        sys.stdout,
        indent=2,
    )
    print()
    return 0 if stack["StackStatus"] == "CREATE_COMPLETE" else 1


if __name__ == "__main__":
    sys.exit(main())
