"""Create the attachments bucket on an S3-compatible server (scripts/services): s3_bucket.py ENDPOINT BUCKET.

Fails (non-zero) while the server is not answering yet; an existing bucket is fine.
"""

import sys

import boto3

endpoint, bucket = sys.argv[1], sys.argv[2]
client = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="linkup",
    aws_secret_access_key="linkup-secret",
)
existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
if bucket not in existing:
    client.create_bucket(Bucket=bucket)
