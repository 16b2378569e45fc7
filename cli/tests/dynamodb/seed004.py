"""Seed 004's policy table in moto's DynamoDB, written with boto3 and scanned as `aws dynamodb scan` prints it.

One item per Cognito group: partition key `group`, attribute `policy`, the IAM policy document a Lambda authorizer
returns for the group (as a map, or for one group as a JSON string). Usage: python seed004.py OUT.json
"""

import json
import sys

import boto3
from moto import mock_aws

ARN = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev"

GROUPS = {
    "pet-veterinarian": {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Pets", "Effect": "Allow", "Action": "execute-api:Invoke",
             "Resource": [f"{ARN}/*/pets", f"{ARN}/*/pets/*"]},
        ],
    },
    "suspended": {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "Suspended", "Effect": "Deny", "Action": "execute-api:*", "Resource": "*"}],
    },
    "auditors": {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Reports", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": f"{ARN}/GET/reports",
             "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
        ],
    },
}

# Stored as text, as some authorizers keep the document: `JSON.parse(item.policy)`.
AS_JSON_STRING = {
    "pet-owner": {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "OwnPets", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": f"{ARN}/GET/pets/mine"}],
    },
}


def main(out):
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        table = dynamodb.create_table(
            TableName="GroupPolicies",
            KeySchema=[{"AttributeName": "group", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "group", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for group, policy in GROUPS.items():
            table.put_item(Item={"group": group, "policy": policy})
        for group, policy in AS_JSON_STRING.items():
            table.put_item(Item={"group": group, "policy": json.dumps(policy)})

        # The low-level client answers in DynamoDB's typed JSON, which is what the AWS CLI prints; page through it
        # as the CLI does.
        client = boto3.client("dynamodb", region_name="us-east-1")
        items, scanned, start = [], 0, None
        while True:
            page = client.scan(TableName="GroupPolicies", **({"ExclusiveStartKey": start} if start else {}))
            items.extend(page["Items"])
            scanned += page["ScannedCount"]
            start = page.get("LastEvaluatedKey")
            if not start:
                break
    with open(out, "w") as handle:
        json.dump({"Items": items, "Count": len(items), "ScannedCount": scanned, "ConsumedCapacity": None}, handle, indent=4)


if __name__ == "__main__":
    main(sys.argv[1])
