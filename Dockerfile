# syntax=docker/dockerfile:1
# Digest's image: `digest serve` with the PostgreSQL driver, as a non-root user, its data
# directory a volume. `docker compose up` runs it beside PostgreSQL (compose.yaml).

# Build: Digest and its dependencies as wheels (the build tools stay in this stage).
FROM python:3.11-slim AS build
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[postgres]"

# Run: the wheels installed, nothing else.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DIGEST_HOME=/data \
    DIGEST_CONFIG=/app/config/docker.toml
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels "digest[postgres]" \
    && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home digest \
    && mkdir -p /data \
    && chown digest:digest /data
WORKDIR /app
COPY config/ config/
USER digest
# The SQLite store (when no store.url is set), the outbox, the signing key, caches.
VOLUME ["/data"]
EXPOSE 8080
# 200 only when the store answers and the scheduler and the sender are alive (README,
# "Watching it run"); the slim image has no curl, Python's urllib does.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["digest"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
