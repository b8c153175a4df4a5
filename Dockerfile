# syntax=docker/dockerfile:1
# The broker's image: two stages, dependencies from the hash-checked lock, the broker as a plain wheel
# (no editable install, no mock VNeID, no tests), run as a non-root user. It never migrates:
# `broker db upgrade` is its own step, once per deploy (deploy/compose.yaml's `migrate` service,
# deploy/kubernetes/migration-job.yaml). tests/ops/test_packaging.py runs this same recipe without Docker.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/broker
# Dependencies first, from the lock only: a change of the broker's code does not rebuild this layer.
COPY requirements.lock ./
RUN /opt/broker/bin/pip install --require-hashes --no-deps -r requirements.lock
# The broker alone: mock_vneid/ is not copied, so the wheel cannot contain it.
COPY pyproject.toml README.md ./
COPY broker ./broker
RUN /opt/broker/bin/pip wheel --no-deps --no-build-isolation -w /dist . \
 && /opt/broker/bin/pip install --no-deps /dist/*.whl \
 && rm -f /opt/broker/bin/mock-vneid \
 && /opt/broker/bin/broker --help >/dev/null

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/broker/bin:$PATH \
    BROKER_HOST=0.0.0.0 BROKER_PORT=8000 BROKER_LOG_FORMAT=json \
    PROMETHEUS_MULTIPROC_DIR=/tmp/broker-metrics
RUN groupadd --system --gid 10001 broker \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin broker
COPY --from=build /opt/broker /opt/broker
USER 10001:10001
WORKDIR /tmp
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
# Serve only. Workers share /metrics through PROMETHEUS_MULTIPROC_DIR (emptied by `broker serve` at start).
CMD ["broker", "serve", "--workers", "2"]
