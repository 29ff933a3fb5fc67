#!/usr/bin/env python3
"""Single-threaded boto3 presign throughput, the counterpart of
`cargo run --release -p aae-storage --example presign_bench`.

Usage: python3 bench/presign_boto3.py [N]   (default N = 50,000 GET and 50,000 PUT URLs)
Prints {"get_per_sec": ..., "put_per_sec": ...}. Presigning is offline: nothing listens on the
endpoint and no request is sent.
"""

import json
import sys
import time

import boto3
from botocore.config import Config


def main() -> None:
    n = int(sys.argv[1].replace("_", "")) if len(sys.argv) > 1 else 50_000
    client = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:5000",
        region_name="us-east-1",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    # Same key ring as the Rust benchmark.
    keys = [f"uploads/user-{i}/2024/03/photo {i}.png" for i in range(1024)]

    rates = {}
    for name, operation, extra in (
        ("get_per_sec", "get_object", {}),
        ("put_per_sec", "put_object", {"ContentType": "image/png"}),
    ):
        started = time.perf_counter()
        total = 0
        for i in range(n):
            params = {"Bucket": "bench-bucket", "Key": keys[i % len(keys)], **extra}
            total += len(client.generate_presigned_url(operation, Params=params, ExpiresIn=3600))
        rates[name] = round(n / (time.perf_counter() - started))
    print(json.dumps(rates))


if __name__ == "__main__":
    main()
