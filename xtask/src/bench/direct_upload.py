"""The reference S3 upload: boto3's managed transfer with its default settings (multipart from
8 MiB, 8 MiB parts, 10 threads), of one file to a bucket. Prints the seconds the upload took,
from the first request to the completed object, without the interpreter's start-up.

Usage: python direct_upload.py ENDPOINT BUCKET KEY FILE  (credentials from AWS_* variables)
"""

import sys
import time

import boto3

endpoint, bucket, key, path = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint)
started = time.monotonic()
s3.upload_file(path, bucket, key)
print(f"{time.monotonic() - started:.4f}")
