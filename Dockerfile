# Kura voice gateway: a slim, non-root image whose PID 1 is `kura` itself, so the orchestrator's
# SIGTERM starts the drain (new work refused, live sessions run on up to KURA_DRAIN_TIMEOUT_S).
# Give the container a stop grace period above that timeout (compose: stop_grace_period;
# Kubernetes: terminationGracePeriodSeconds).
#
#   docker build -t kura-gateway .
#   docker run --rm -p 8080:8080 kura-gateway

# Stage 1: build wheels for Kura and every dependency (nothing to compile: all ship wheels).
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY config ./config
COPY kinds ./kinds
COPY media ./media
COPY providers ./providers
COPY gateway ./gateway
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# Stage 2: the runtime, without pip's caches or the build tree.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KURA_HOST=0.0.0.0 \
    KURA_PORT=8080 \
    KURA_DATABASE_URL=sqlite+aiosqlite:////data/kura.db
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels /wheels/kura_gateway-*.whl \
    && useradd --system --uid 10001 --user-group --home-dir /data --create-home kura
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# Liveness only: readiness (database, drain) is the load balancer's business, and a draining
# node must not be restarted for being unready.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('KURA_PORT', '8080') + '/api/v1/health/live', timeout=2)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["kura"]
CMD ["serve"]
