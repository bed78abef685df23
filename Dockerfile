FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore \
    VAFA_DATABASE_URL=sqlite+aiosqlite:////data/vafa.db PORT=8000
WORKDIR /srv/vafa
RUN useradd --create-home --uid 10001 vafa && mkdir /data && chown vafa /data

# The dependencies, pinned with their hashes (`make lock`), in a layer of their own: a change
# to the code alone does not reinstall them.
COPY requirements.lock /tmp/build/
RUN pip install --require-hashes -r /tmp/build/requirements.lock

# The package, built with the locked setuptools; its migrations ship inside it, so nothing of
# the source tree stays in the image.
COPY pyproject.toml setup.py README.md /tmp/build/
COPY app /tmp/build/app
COPY migrations /tmp/build/migrations
RUN pip install --no-deps --no-build-isolation /tmp/build && rm -rf /tmp/build

USER vafa
VOLUME ["/data"]
EXPOSE 8000
# The slim image has no curl: Python asks /healthz on the port the server listens on.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['PORT'] + '/healthz', timeout=4)"]
# Set VAFA_SECRET_KEY (and VAFA_DATABASE_URL for PostgreSQL); the schema is migrated at start
# (containers that start together take turns). On SQLite the worker runs inside `vafa serve`;
# on PostgreSQL run `vafa worker` from the same image beside it. `vafa serve` listens on $PORT
# and trusts X-Forwarded-* headers from the addresses in VAFA_FORWARDED_ALLOW_IPS (default
# 127.0.0.1: set it to your proxy's address, or * when only the proxy can reach the container).
CMD ["sh", "-c", "vafa migrate && exec vafa serve --host 0.0.0.0"]
