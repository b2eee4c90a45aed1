#!/usr/bin/env python3
"""Create the stateful resources of template.yaml in the local AWS emulator.

template.yaml is the one list of resources: this reads its DynamoDB tables,
SQS queues, S3 buckets and KMS keys and creates each, named
`<prefix>-<LogicalId>`, through the real AWS API at AWS_ENDPOINT_URL.
Running it again with the same prefix finds what exists and changes nothing.
Prints one JSON object with the names the binaries need.

With --principals FILE it also makes, for each function of the template and
for RunnerPolicy, an IAM user `<prefix>-<LogicalId>` whose one policy is
that function's statements, and writes their keys to FILE (mode 0600):
{"<LogicalId>": {"accessKeyId": ..., "secretAccessKey": ...}}. With the
emulator's IAM enforcement on, each binary then acts with its own grants
only, and a grant missing from template.yaml fails the test that needs it.
"""
import argparse
import json
import os
import sys

import boto3
import botocore.exceptions
import yaml


class CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"!" + suffix: value}


CfnLoader.add_multi_constructor("!", _tag)


def physical(prefix, logical):
    return f"{prefix}-{logical}"


def create_table(ddb, name, props):
    try:
        ddb.describe_table(TableName=name)
        return name
    except ddb.exceptions.ResourceNotFoundException:
        pass
    args = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    ddb.create_table(**args)
    ddb.get_waiter("table_exists").wait(TableName=name)
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    return name


def create_queue(sqs, name, props, arns):
    attributes = {}
    for key in ("VisibilityTimeout", "MessageRetentionPeriod"):
        if key in props:
            attributes[key] = str(props[key])
    redrive = props.get("RedrivePolicy")
    if redrive:
        target = redrive["deadLetterTargetArn"]
        logical = target["!GetAtt"].split(".")[0] if isinstance(target, dict) else target
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": arns[logical], "maxReceiveCount": str(redrive["maxReceiveCount"])}
        )
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


# What the dashboard is served from locally, in place of API Gateway's origin.
LOCAL_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*"]


def allow_dashboard(s3, name, props):
    cors = props.get("CorsConfiguration")
    if not cors:
        return
    rules = [
        {
            "AllowedMethods": rule["AllowedMethods"],
            "AllowedHeaders": rule.get("AllowedHeaders", []),
            "AllowedOrigins": LOCAL_ORIGINS,
            "MaxAgeSeconds": rule.get("MaxAge", 0),
        }
        for rule in cors["CorsRules"]
    ]
    s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": rules})


def create_bucket(s3, name, props):
    try:
        s3.head_bucket(Bucket=name)
        allow_dashboard(s3, name, props)
        return name
    except botocore.exceptions.ClientError:
        pass
    s3.create_bucket(Bucket=name)
    allow_dashboard(s3, name, props)
    if "BucketEncryption" in props:
        # CloudFormation and the S3 API spell the default rule differently.
        rules = [
            {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
            for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
    return name


def create_key(kms, name, props):
    alias = f"alias/{name}"
    try:
        return kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
    except kms.exceptions.NotFoundException:
        pass
    arn = kms.create_key(Description=props.get("Description", name))["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName=alias, TargetKeyId=arn)
    return arn


# moto authorizes DynamoDB and KMS requests by action only: it matches
# their resource as "*", which no ARN matches. Statements on the table or
# the key are given Resource "*" here; S3 and SQS keep their exact ARNs.
BY_ACTION_ONLY = ("AWS::DynamoDB::Table", "AWS::KMS::Key")


def resolve(value, resources, names):
    """A statement's Resource, from CloudFormation's !GetAtt X.Arn and
    !Sub "${X.Arn}/..." to the emulator's ARNs."""
    if isinstance(value, list):
        return [resolve(v, resources, names) for v in value]
    if isinstance(value, str):
        return value
    if "!GetAtt" in value:
        logical, attribute = value["!GetAtt"].split(".")
        assert attribute == "Arn", value
        return names[logical]
    if "!Sub" in value:
        text = value["!Sub"]
        for logical in resources:
            marker = "${" + logical + ".Arn}"
            if marker in text:
                if names[logical] == "*":
                    return "*"
                text = text.replace(marker, names[logical])
        assert "${" not in text, value
        return text
    raise ValueError(f"cannot resolve {value}")


def sam_poller(events, arns):
    """What SAM adds to a function with an SQS event: the rights Lambda's
    event source mapping uses to poll the queue for it (local-api polls in
    the function's place)."""
    statements = []
    for event in (events or {}).values():
        if event["Type"] == "SQS":
            queue = event["Properties"]["Queue"]["!GetAtt"].split(".")[0]
            statements.append({
                "Effect": "Allow",
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                           "sqs:ChangeMessageVisibility"],
                "Resource": arns[queue],
            })
    return statements


def policies(resources, arns):
    """Each function's (and RunnerPolicy's) statements, resolved."""
    names = {}
    for logical, res in resources.items():
        kind = res["Type"]
        if kind in BY_ACTION_ONLY:
            names[logical] = "*"
        elif logical in arns:
            names[logical] = arns[logical]
    out = {}
    for logical, res in resources.items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Serverless::Function":
            statements = [s for p in props.get("Policies", []) for s in p["Statement"]]
            statements += sam_poller(props.get("Events"), arns)
        elif res["Type"] == "AWS::IAM::ManagedPolicy":
            statements = props["PolicyDocument"]["Statement"]
        else:
            continue
        resolved = []
        for statement in statements:
            statement = dict(statement)
            statement["Resource"] = resolve(statement["Resource"], resources, names)
            resolved.append(statement)
        out[logical] = {"Version": "2012-10-17", "Statement": resolved}
    return out


def make_principals(iam, prefix, documents):
    """One IAM user per policy document, with a fresh access key."""
    keys = {}
    for logical, document in documents.items():
        user = f"{prefix}-{logical}"
        try:
            iam.create_user(UserName=user)
        except iam.exceptions.EntityAlreadyExistsException:
            for old in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
                iam.delete_access_key(UserName=user, AccessKeyId=old["AccessKeyId"])
        iam.put_user_policy(UserName=user, PolicyName=logical, PolicyDocument=json.dumps(document))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        keys[logical] = {"accessKeyId": key["AccessKeyId"], "secretAccessKey": key["SecretAccessKey"]}
    return keys


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument("--prefix", required=True, help="lowercase name prefix, e.g. slipway-local")
    parser.add_argument("--principals", help="make an IAM user per function; write their keys here")
    args = parser.parse_args()
    prefix = args.prefix.lower()

    with open(args.template) as f:
        resources = yaml.load(f, Loader=CfnLoader)["Resources"]

    # The Rust SDK reads AWS_REGION; older botocore only AWS_DEFAULT_REGION.
    session = boto3.session.Session(region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    ddb, sqs, s3, kms = (session.client(s) for s in ("dynamodb", "sqs", "s3", "kms"))
    out = {"tables": {}, "queues": {}, "buckets": {}, "keys": {}}
    arns = {}
    # Queues that others point at (dead-letter queues) first.
    order = sorted(resources.items(), key=lambda kv: "RedrivePolicy" in kv[1].get("Properties", {}))
    for logical, res in order:
        kind, props = res["Type"], res.get("Properties", {})
        name = physical(prefix, logical)
        if kind == "AWS::DynamoDB::Table":
            out["tables"][logical] = create_table(ddb, name, props)
        elif kind == "AWS::SQS::Queue":
            url, arn = create_queue(sqs, name, props, arns)
            arns[logical] = arn
            out["queues"][logical] = url
        elif kind == "AWS::S3::Bucket":
            out["buckets"][logical] = create_bucket(s3, name.lower(), props)
            arns[logical] = f"arn:aws:s3:::{name.lower()}"
        elif kind == "AWS::KMS::Key":
            out["keys"][logical] = create_key(kms, name, props)
    if args.principals:
        keys = make_principals(session.client("iam"), prefix, policies(resources, arns))
        fd = os.open(args.principals, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(keys, f)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
