#!/usr/bin/env python3
"""Create the stateful resources of template.yaml in the local AWS emulator.

template.yaml is the one list of resources: this reads its DynamoDB tables,
SQS queues, S3 buckets and KMS keys and creates each, named
`<prefix>-<LogicalId>`, through the real AWS API at AWS_ENDPOINT_URL.
Running it again with the same prefix finds what exists and changes nothing.
Prints one JSON object with the names the binaries need.
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


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument("--prefix", required=True, help="lowercase name prefix, e.g. slipway-local")
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
        elif kind == "AWS::KMS::Key":
            out["keys"][logical] = create_key(kms, name, props)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
