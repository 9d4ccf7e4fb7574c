"""Fixtures of the multi-node tests: the real S3 server and a bucket of tests/storage, and (test_two_nodes.py) two
gunicorn nodes and two Celery workers behind nginx."""

from tests.storage.conftest import bucket, s3_documents, s3_server  # noqa: F401  (fixtures used here too)
