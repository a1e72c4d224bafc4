#!/usr/bin/env python3
"""Creates template.yaml as a CloudFormation stack on a moto server, as `sam deploy` would.

Usage: sam_on_moto.py TEMPLATE ENDPOINT [STACK_NAME [Parameter=Value ...]] [--enforce-iam]
       sam_on_moto.py --translate TEMPLATE OUT   (only writes the translated template, as JSON)

The SAM template is translated offline with aws-sam-translator (the functions' and the layer's
local code locations replaced by S3 URIs of placeholder zips), then created with CreateStack on
moto's CloudFormation. Prints one JSON document: the stack's status, how many resources the
translation made, the stack's outputs (what `mediaflow --stack NAME` reads) and its IAM roles by
logical id (`Roles`). Exit code 0 only when the stack is CREATE_COMPLETE.

moto creates the tables, queues, buckets, roles and functions (it does not run the functions:
that needs Docker), and skips a few resource types it does not model (queue and bucket policies,
the worker's event invoke configuration) with a warning. moto keeps the policy documents of the
roles and managed policies it creates as Python text, with AWS::NoValue left in as None: they are
stored again as the JSON documents CloudFormation would store, so that moto's IAM enforcement
(INITIAL_NO_AUTH_ACTION_COUNT) can read them; the stack's managed policies are attached to the
roles that list them, which moto's CloudFormation leaves undone; a managed policy's Fn::If
statements are resolved before creation, which moto's validation of it needs.

With --enforce-iam, the stack's roles and policies then hold: every function role is assumed
(`Principals`: temporary credentials by role logical id), an `operator` user gets the two managed
policies the template offers CLI users (ConsolePolicy, OperatorPolicy), an `admin` user gets
every right (for the harness: uploads, checks), and moto starts enforcing IAM for every later
request (its /moto-api/reset-auth).

Needs: aws-sam-translator, boto3, PyYAML (scripts/setup.sh installs them).
"""

import ast
import io
import json
import os
import sys
import time
import urllib.request
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


def as_json(document):
    """A policy document as CloudFormation stores it: JSON, without AWS::NoValue statements."""
    while isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            document = ast.literal_eval(document)
    statements = document.get("Statement", [])
    if isinstance(statements, list):
        document["Statement"] = [statement for statement in statements if statement is not None]
    # SAM writes the on-failure destination's policy without a version, which moto refuses to
    # store again (AWS reads it as 2008-10-17: the same, for a policy without variables).
    document.setdefault("Version", "2012-10-17")
    return json.dumps(document)


def condition_values(cfn, parameters):
    """The template's conditions, evaluated as CloudFormation does for these parameter values."""
    given = {p["ParameterKey"]: p["ParameterValue"] for p in parameters}
    values = {}
    for name, declared in (cfn.get("Parameters") or {}).items():
        value = given.get(name, str(declared.get("Default", "")))
        values[name] = value.split(",") if declared.get("Type") == "CommaDelimitedList" else value

    def evaluate(node):
        if not isinstance(node, dict):
            return node
        (function, argument), = node.items()
        if function == "Ref":
            return values[argument]
        if function == "Condition":
            return evaluate(cfn["Conditions"][argument])
        if function == "Fn::Join":
            return argument[0].join(evaluate(argument[1]))
        if function == "Fn::Equals":
            return evaluate(argument[0]) == evaluate(argument[1])
        if function == "Fn::Not":
            return not evaluate(argument[0])
        if function == "Fn::And":
            return all(evaluate(part) for part in argument)
        if function == "Fn::Or":
            return any(evaluate(part) for part in argument)
        raise ValueError(f"{function} in a condition")

    return {name: evaluate(expression) for name, expression in (cfn.get("Conditions") or {}).items()}


def managed_policies_resolved(cfn, parameters):
    """Chooses the branch of each Fn::If statement of the managed policies and drops
    AWS::NoValue, as CloudFormation does: moto validates a managed policy's document before it
    resolves them, and refuses one that keeps None in its statements."""
    conditions = condition_values(cfn, parameters)
    for resource in cfn["Resources"].values():
        if resource.get("Type") != "AWS::IAM::ManagedPolicy":
            continue
        document = resource["Properties"]["PolicyDocument"]
        chosen = []
        for statement in document["Statement"]:
            if isinstance(statement, dict) and "Fn::If" in statement:
                condition, when_true, when_false = statement["Fn::If"]
                statement = when_true if conditions[condition] else when_false
            if statement != {"Ref": "AWS::NoValue"}:
                chosen.append(statement)
        document["Statement"] = chosen


def attach_managed_policies(session, endpoint, cfn, resources):
    """Attaches the stack's own managed policies to the roles that list them in
    ManagedPolicyArns, as CloudFormation does (moto's roles ignore that property)."""
    iam = session.client("iam", endpoint_url=endpoint)
    physical = {r.get("LogicalResourceId"): r.get("PhysicalResourceId") for r in resources}
    for logical_id, resource in cfn["Resources"].items():
        if resource.get("Type") != "AWS::IAM::Role":
            continue
        for arn in resource["Properties"].get("ManagedPolicyArns", []):
            if isinstance(arn, dict) and cfn["Resources"].get(arn.get("Ref"), {}).get("Type") == "AWS::IAM::ManagedPolicy":
                iam.attach_role_policy(RoleName=physical[logical_id], PolicyArn=physical[arn["Ref"]])


def store_policies_as_json(session, endpoint, resources):
    """Rewrites the stack's role and managed policies as JSON (see the module's note on moto)."""
    iam = session.client("iam", endpoint_url=endpoint)
    for resource in resources:
        kind, name = resource.get("ResourceType"), resource.get("PhysicalResourceId")
        if kind == "AWS::IAM::Role":
            for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
                document = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
                iam.put_role_policy(RoleName=name, PolicyName=policy, PolicyDocument=as_json(document))
        elif kind == "AWS::IAM::ManagedPolicy":
            version = iam.get_policy(PolicyArn=name)["Policy"]["DefaultVersionId"]
            document = iam.get_policy_version(PolicyArn=name, VersionId=version)["PolicyVersion"]["Document"]
            iam.create_policy_version(PolicyArn=name, PolicyDocument=as_json(document), SetAsDefault=True)


def principals(session, endpoint, roles, outputs):
    """Credentials of each role, of an operator and of an admin; then IAM is enforced."""
    iam = session.client("iam", endpoint_url=endpoint)
    sts = session.client("sts", endpoint_url=endpoint)
    found = {}
    for logical_id, name in roles.items():
        role = iam.get_role(RoleName=name)["Role"]
        credentials = sts.assume_role(RoleArn=role["Arn"], RoleSessionName=logical_id)["Credentials"]
        found[logical_id] = {
            "AccessKeyId": credentials["AccessKeyId"],
            "SecretAccessKey": credentials["SecretAccessKey"],
            "SessionToken": credentials["SessionToken"],
        }
    every_right = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    for user, policies in (("operator", ["ConsolePolicyArn", "OperatorPolicyArn"]), ("admin", [])):
        iam.create_user(UserName=user)
        for output in policies:
            iam.attach_user_policy(UserName=user, PolicyArn=outputs[output])
        if not policies:
            iam.put_user_policy(UserName=user, PolicyName="everything", PolicyDocument=json.dumps(every_right))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        found[user] = {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}
    # Not form-encoded: moto reads the count from the raw body.
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
    )
    urllib.request.urlopen(request).close()  # noqa: S310 (the local server)
    return found


def main():
    if sys.argv[1] == "--translate":
        return translate_only(sys.argv[2], sys.argv[3])
    enforce = "--enforce-iam" in sys.argv
    args = [arg for arg in sys.argv[1:] if arg != "--enforce-iam"]
    template_path, endpoint = args[0], args[1]
    stack_name = args[2] if len(args) > 2 else "mediaflow"
    parameters = [dict(zip(("ParameterKey", "ParameterValue"), arg.split("=", 1))) for arg in args[3:]]
    started = time.monotonic()
    with open(template_path) as file:
        sam = yaml.load(file, Loader=CfnLoader)  # noqa: S506 (a SafeLoader)
    keys = code_uris_in_s3(sam)
    cfn = translate(sam)
    managed_policies_resolved(cfn, parameters)
    session = boto3.session.Session(region_name=REGION)
    s3 = session.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=CODE_BUCKET)
    for key in keys:
        s3.put_object(Bucket=CODE_BUCKET, Key=key, Body=placeholder_zip())
    cloudformation = session.client("cloudformation", endpoint_url=endpoint)
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(cfn),
        Parameters=parameters,
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    while True:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() - started > 120:
            break
        time.sleep(0.2)
    resources = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
    if stack["StackStatus"] == "CREATE_COMPLETE":
        store_policies_as_json(session, endpoint, resources)
        attach_managed_policies(session, endpoint, cfn, resources)

    def named(kind):
        return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources if r.get("ResourceType") == kind}

    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    complete = stack["StackStatus"] == "CREATE_COMPLETE"
    json.dump(
        {
            "StackStatus": stack["StackStatus"],
            "Resources": len(cfn["Resources"]),
            "Outputs": outputs,
            "Roles": named("AWS::IAM::Role"),
            "Principals": principals(session, endpoint, named("AWS::IAM::Role"), outputs) if enforce and complete else {},
            "Seconds": round(time.monotonic() - started, 2),
        },
        sys.stdout,
        indent=2,
    )
    print()
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
