#!/usr/bin/env python3
"""The IAM of the translated template (infra/local/src/sam_on_moto.py --translate), checked for what
mediaflow promises of its roles and managed policies: no wildcard actions (`*`, `s3:*`), no
statement allowing every resource, and only the worker reads webhook secrets (SSM parameters,
Secrets Manager): not the console, the operators' policies or the other functions.

Usage: check_iam.py TRANSLATED.json   (exit code 1 and one line per problem when one is found)
"""

import json
import sys


def statements(document):
    """Every statement of a policy document, both branches of an Fn::If included."""
    found = document.get("Statement", [])
    for statement in found if isinstance(found, list) else [found]:
        if isinstance(statement, dict) and "Fn::If" in statement:
            yield from (branch for branch in statement["Fn::If"][1:] if isinstance(branch, dict) and "Effect" in branch)
        elif isinstance(statement, dict):
            yield statement


def listed(value):
    return value if isinstance(value, list) else [value]


SECRET_READS = ("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "secretsmanager:GetSecretValue")


def policies(template):
    """(owner, policy document) of every role's inline policy and every managed policy."""
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                yield name, policy["PolicyDocument"]
        elif resource["Type"] == "AWS::IAM::ManagedPolicy":
            yield name, resource["Properties"]["PolicyDocument"]


def problems_of(owner, statement):
    if statement.get("Effect") != "Allow":
        return
    sid = statement.get("Sid", "?")
    for action in listed(statement.get("Action", [])):
        if isinstance(action, str) and (action == "*" or action.endswith(":*")):
            yield f"{owner} {sid}: wildcard action {action}"
        # Webhook secrets are the worker's alone: it signs the notifications.
        if action in SECRET_READS and owner != "WorkerFunctionRole":
            yield f"{owner} {sid}: may read webhook secrets ({action}); only the worker may"
    for resource in listed(statement.get("Resource", [])):
        if resource == "*":
            yield f"{owner} {sid}: allows every resource"


def main():
    template = json.load(open(sys.argv[1]))
    problems = []
    owners = set()
    for owner, document in policies(template):
        owners.add(owner)
        for statement in statements(document):
            problems.extend(problems_of(owner, statement))
    for problem in problems:
        print(problem)
    print(f"{len(owners)} roles and managed policies checked: {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
