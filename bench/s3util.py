#!/usr/bin/env python3
"""Small S3 chores for the benchmarks (run with the bench venv's python, which has boto3).

  s3util.py ENDPOINT mkbucket NAME...        create buckets (ok if they exist)
  s3util.py ENDPOINT seed BUCKET SMALL_N SMALL_KIB LARGE_N LARGE_MIB
                                             put SMALL_N objects of SMALL_KIB KiB and LARGE_N of
                                             LARGE_MIB MiB (random bytes), 32 at a time; skipped
                                             when the bucket already holds exactly that
  s3util.py ENDPOINT rmbucket BUCKET         delete every object, then the bucket
  s3util.py ENDPOINT stat BUCKET             print {"objects": n, "bytes": b}
  s3util.py ENDPOINT same SRC DST            exit 0 when DST lists the same keys and sizes as SRC
                                             (and ETags, where both are plain MD5s)

Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY; path-style addressing.
"""

import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config


def client(endpoint):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            max_pool_connections=64,
            retries={"max_attempts": 5, "mode": "standard"},
        ),
    )


def listing(s3, bucket):
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = (obj["Size"], obj.get("ETag", "").strip('"'))
    return out


def same_object(a, b):
    """Same size, and same ETag when both are plain MD5s (a multipart copy has an `-N` ETag)."""
    if a[0] != b[0]:
        return False
    return "-" in a[1] or "-" in b[1] or a[1] == b[1]


def mkbucket(s3, names):
    for name in names:
        try:
            s3.create_bucket(Bucket=name)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        except s3.exceptions.BucketAlreadyExists:
            pass


def seed(s3, bucket, small_n, small_kib, large_n, large_mib):
    mkbucket(s3, [bucket])
    wanted = {f"small/{i // 100:03d}/obj-{i:05d}.bin": small_kib << 10 for i in range(small_n)}
    wanted.update({f"large/video-{i}.bin": large_mib << 20 for i in range(large_n)})
    have = listing(s3, bucket)
    if {k: v[0] for k, v in have.items()} == wanted:
        print(json.dumps({"seeded": 0, "present": len(have)}))
        return
    todo = [(k, size) for k, size in wanted.items() if have.get(k, (None,))[0] != size]

    def put(item):
        key, size = item
        s3.put_object(Bucket=bucket, Key=key, Body=os.urandom(size), ContentType="application/octet-stream")

    # Large objects first, few at a time (memory), then the small ones 32 at a time.
    large = [t for t in todo if t[1] > (1 << 20)]
    small = [t for t in todo if t[1] <= (1 << 20)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(put, large))
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(put, small))
    print(json.dumps({"seeded": len(todo), "present": len(wanted)}))


def rmbucket(s3, bucket):
    keys = list(listing(s3, bucket))
    batches = [keys[i : i + 1000] for i in range(0, len(keys), 1000)]

    def delete(batch):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(delete, batches))
    s3.delete_bucket(Bucket=bucket)


def main():
    endpoint, command, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    s3 = client(endpoint)
    if command == "mkbucket":
        mkbucket(s3, args)
    elif command == "seed":
        bucket, *numbers = args
        seed(s3, bucket, *map(int, numbers))
    elif command == "rmbucket":
        rmbucket(s3, args[0])
    elif command == "stat":
        objs = listing(s3, args[0])
        print(json.dumps({"objects": len(objs), "bytes": sum(v[0] for v in objs.values())}))
    elif command == "same":
        src, dst = listing(s3, args[0]), listing(s3, args[1])
        missing = [k for k in src if k not in dst]
        differ = [k for k in src if k in dst and not same_object(src[k], dst[k])]
        if missing or differ or len(src) != len(dst):
            print(json.dumps({"missing": len(missing), "differ": len(differ), "examples": (missing + differ)[:5]}))
            sys.exit(1)
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
