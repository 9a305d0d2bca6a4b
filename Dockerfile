# The mergelens dashboard, served for a team (docs/serve-dashboard.md):
#   docker build -t mergelens-dashboard .
#   docker run -p 127.0.0.1:8501:8501 -v "$PWD/secrets.toml:/app/.streamlit/secrets.toml:ro" mergelens-dashboard
# On the DuckLake line (DuckDB 1.5.5 and its DuckLake extension, docs/ducklake.md), for a ducklake: DB:
#   docker build --build-arg REQUIREMENTS=requirements-lake.txt -t mergelens-dashboard-lake .
# tests/test_container.py lints this file (hadolint), holds its install command to the merge
# workflow's, and runs its CMD and HEALTHCHECK against a real DB.
#
# The official slim Python 3.11 image, pinned by tag only: its digest could not be read where
# this file was written (no registry access), and a digest copied from elsewhere is unverified.
# To pin it, run `docker buildx imagetools inspect python:3.11-slim-bookworm` and write
# FROM python:3.11-slim-bookworm@sha256:<the index digest it prints>.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MERGELENS_DB=/data/mergelens.duckdb

WORKDIR /app

# The runtime set (the dashboard's; no test tools), every package pinned with its sha256, wheels
# only (no sdist's build code runs): the merge workflow's install command, on requirements.txt
# instead of the fetcher's own requirements-fetcher.txt, plus --no-cache-dir. REQUIREMENTS picks the
# line: requirements.txt (DuckDB 2.0, files, S3, artifacts) or requirements-lake.txt (the lake's).
ARG REQUIREMENTS=requirements.txt
COPY ${REQUIREMENTS} requirements.txt
RUN python -m pip install --require-hashes --only-binary :all: --no-cache-dir -r requirements.txt

# The dashboard and the fetcher package it imports; nothing else of the repository.
COPY fetcher/ fetcher/
COPY dashboard/ dashboard/

# The code stays root-owned (read-only to the server); the server runs as an unprivileged user
# (mergelens, uid 10001; numeric, so a runtime can check it is not root) whose home holds
# Streamlit's own files.
RUN groupadd --gid 10001 mergelens \
    && useradd --uid 10001 --gid 10001 --create-home mergelens
USER 10001:10001

EXPOSE 8501
# Streamlit answers "ok" on /_stcore/health once it serves; slim has no curl, so python asks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).read() != b'ok')"]
CMD ["streamlit", "run", "dashboard/app.py", "--server.address", "0.0.0.0", "--server.port", "8501", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
