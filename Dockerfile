FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    VAFA_DATABASE_URL=sqlite+aiosqlite:////data/vafa.db
WORKDIR /srv/vafa
RUN useradd --create-home --uid 10001 vafa && mkdir /data && chown vafa /data

COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN pip install . && rm -rf build *.egg-info

USER vafa
VOLUME ["/data"]
EXPOSE 8000
# Set VAFA_SECRET_KEY (and VAFA_DATABASE_URL for PostgreSQL); the schema is migrated at start
# (containers that start together take turns). On SQLite the worker runs inside `vafa serve`;
# on PostgreSQL run `vafa worker` from the same image beside it.
CMD ["sh", "-c", "vafa migrate && exec vafa serve --host 0.0.0.0 --port 8000"]
