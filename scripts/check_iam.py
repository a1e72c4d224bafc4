#!/usr/bin/env python3
"""The IAM of the translated template (tests/sam_on_moto.py --translate), checked for what
mediaflow promises of its roles: no wildcard actions (`*`, `s3:*`), no statement allowing every
resource, and the console's role reads no webhook secrets (SSM parameters, Secrets Manager).

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


def main():
    template = json.load(open(sys.argv[1]))
    problems = []
    roles = {name: r for name, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    for name, role in roles.items():
        for policy in role["Properties"].get("Policies", []):
            for statement in statements(policy["PolicyDocument"]):
                if statement.get("Effect") != "Allow":
                    continue
                sid = statement.get("Sid", "?")
                for action in listed(statement.get("Action", [])):
                    if isinstance(action, str) and (action == "*" or action.endswith(":*")):
                        problems.append(f"{name} {sid}: wildcard action {action}")
                for resource in listed(statement.get("Resource", [])):
                    if resource == "*":
                        problems.append(f"{name} {sid}: allows every resource")
                if name.startswith("Console"):
                    for action in listed(statement.get("Action", [])):
                        if action in ("ssm:GetParameter", "ssm:GetParameters", "secretsmanager:GetSecretValue"):
                            problems.append(f"{name} {sid}: the console may read webhook secrets ({action})")
    for problem in problems:
        print(problem)
    print(f"{len(roles)} roles checked: {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
