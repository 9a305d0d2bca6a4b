"""An object in an S3-compatible bucket (boto3 reads ``AWS_ENDPOINT_URL`` itself): download with
the ETag, upload with a conditional write; a concurrent writer makes us re-download and
re-apply, so ``apply`` may run more than once and must work on whatever file it is given."""

from __future__ import annotations

import os
import random
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from fetcher.errors import StorageConflict, StorageError
from fetcher.storage.files import COPY_CHUNK, remove
from fetcher.storage.location import Fetched, RemoteVersion, UpdateResult, first_line
from fetcher.storage.verify import apply_and_verify

T = TypeVar("T")

DEFAULT_MAX_ATTEMPTS = 5

# What S3 answers a conditional PUT that lost a race: 412 when the ETag no longer matches
# (If-Match) or the key now exists (If-None-Match: *), 409 when another conditional write to
# the key is in flight (S3 advises: fetch again and retry).
_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict"}
_CONFLICT_STATUSES = {409, 412}
_USERINFO = re.compile(r"//[^/@\s]+@")


class _Conflict(Exception):
    pass


class S3Location:
    """An object in an S3-compatible bucket, updated with optimistic concurrency (ETags)."""

    def __init__(
        self,
        bucket: str,
        key: str,
        workdir: Path | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff_s: float = 0.2,
        client: Any = None,
    ) -> None:
        self.bucket = bucket
        self.key = key
        self.workdir = workdir
        self.max_attempts = max(1, max_attempts)
        self.backoff_s = backoff_s
        self._client = client
        self.description = f"s3://{bucket}/{key}"

    def client(self) -> Any:
        if self._client is None:
            import boto3.session
            from botocore.config import Config

            try:
                # A session of our own: boto3's default session caches credentials process-wide,
                # and creating clients from one shared session is not thread-safe.
                self._client = boto3.session.Session().client(
                    "s3",
                    config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=10, read_timeout=60),
                )
            except Exception as exc:  # e.g. a malformed AWS_ENDPOINT_URL
                raise StorageError(f"{self.description}: cannot set up the S3 client: {self._clean(exc)}") from None
        return self._client

    def update(self, apply: Callable[[Path], T], before: Callable[[], None] | None = None) -> UpdateResult[T]:
        # A private directory: the key's basename cannot clash with a file of the user's.
        workdir = Path(tempfile.mkdtemp(prefix="mergelens-s3-", dir=self.workdir))
        basename = Path(self.key).name or "mergelens.duckdb"
        attempts = 0
        try:
            while True:
                attempts += 1
                work = workdir / f".{basename}.{attempts}.download"
                try:
                    etag = self._download(work)
                    # ``before`` on the first attempt only: a re-apply costs no request to GitHub
                    once = before if attempts == 1 else None
                    value, counts, created = apply_and_verify(work, apply, self.description, once)
                    self._upload(work, etag)
                    break
                except _Conflict:
                    remove(work)
                    if attempts >= self.max_attempts:
                        raise StorageConflict(
                            f"{self.description}: gave up after {attempts} attempts: another writer changed the "
                            "object each time (S3 conditional write failed); rerun, or serialise the writers"
                        ) from None
                    time.sleep(min(self.backoff_s * 2 ** (attempts - 1), 5.0) * random.uniform(0.5, 1.5))
        except BaseException:
            remove(work)
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        stored = workdir / basename
        os.replace(work, stored)
        notes = [] if attempts == 1 else [f"{self.description}: stored on attempt {attempts} (another writer won)"]
        return UpdateResult(
            value=value,
            location=self.description,
            local_path=stored,
            size_bytes=stored.stat().st_size,
            counts=counts,
            created=created,
            attempts=attempts,
            notes=notes,
        )

    def _download(self, work: Path) -> str | None:
        """The object into ``work``; its ETag, or None when the key does not exist yet."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return str(self._get(work)["ETag"])
        except ClientError as exc:
            if self._code(exc) == "NoSuchKey":
                return None  # first run: start a fresh DB and create the object with If-None-Match
            raise self._error("download", exc) from None
        except BotoCoreError as exc:
            raise self._error("download", exc) from None

    def _get(self, work: Path, **condition: str) -> dict[str, Any]:
        """GET the object into ``work``; its response (ETag, LastModified). botocore's errors pass."""
        response: dict[str, Any] = self.client().get_object(Bucket=self.bucket, Key=self.key, **condition)
        with response["Body"] as body, open(work, "wb") as out:
            shutil.copyfileobj(body, out, COPY_CHUNK)
        return response

    def fetch_copy(self, dest: Path, known: RemoteVersion | None) -> Fetched:
        """Read-only: a conditional GET (If-None-Match: the known ETag), so an unchanged object
        costs one request and no download (S3 answers 304 Not Modified)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._get(dest, **({"IfNoneMatch": known.tag} if known else {}))
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if known is not None and status == 304:
                return Fetched(known, changed=False)
            if self._code(exc) == "NoSuchKey":
                raise StorageError(f"{self.description}: no such object (no run has stored a database yet)") from None
            raise self._error("download", exc) from None
        except BotoCoreError as exc:
            raise self._error("download", exc) from None
        stored_at = response.get("LastModified")
        stored_at = stored_at.astimezone(UTC) if isinstance(stored_at, datetime) else None
        etag = str(response["ETag"])
        when = f", stored {stored_at:%Y-%m-%d %H:%M} UTC" if stored_at else ""
        return Fetched(RemoteVersion(etag, stored_at, f"{self.description} (ETag {etag.strip(chr(34))}{when})"), True)

    def _upload(self, work: Path, etag: str | None) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        # If-Match: replace only the version we downloaded. If-None-Match "*": create only if
        # nobody created the key meanwhile. Either way a concurrent writer cannot be overwritten.
        condition = {"IfMatch": etag} if etag is not None else {"IfNoneMatch": "*"}
        try:
            with open(work, "rb") as body:
                self.client().put_object(
                    Bucket=self.bucket,
                    Key=self.key,
                    Body=body,
                    ContentType="application/octet-stream",
                    **condition,
                )
        except ClientError as exc:
            code = self._code(exc)
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in _CONFLICT_CODES or status in _CONFLICT_STATUSES:
                raise _Conflict() from None
            if etag is not None and code == "NoSuchKey":
                raise _Conflict() from None  # If-Match on a key deleted since we read it: S3 answers 404
            raise self._error("upload", exc) from None
        except BotoCoreError as exc:
            raise self._error("upload", exc) from None

    @staticmethod
    def _code(exc: Any) -> str:
        return str(exc.response.get("Error", {}).get("Code", ""))

    def _clean(self, exc: BaseException) -> str:
        # botocore messages name the endpoint URL; drop any user:password@ in it.
        return _USERINFO.sub("//", first_line(exc))

    def _error(self, operation: str, exc: Exception) -> StorageError:
        from botocore.exceptions import ClientError, NoCredentialsError

        if isinstance(exc, NoCredentialsError):
            return StorageError(
                f"{self.description}: no S3 credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "or AWS_PROFILE)"
            )
        if isinstance(exc, ClientError):
            code = self._code(exc) or "error"
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            message = str(exc.response.get("Error", {}).get("Message") or "").splitlines()
            detail = f": {message[0][:200]}" if message else ""
            hint = ""
            if code == "NotImplemented" and operation == "upload":
                hint = " (this store does not support conditional writes: If-Match / If-None-Match)"
            return StorageError(f"{self.description}: S3 {operation} failed: {code} (HTTP {status}){detail}{hint}")
        return StorageError(f"{self.description}: S3 {operation} failed: {type(exc).__name__}: {self._clean(exc)}")
