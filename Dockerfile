FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    BROKER_HOST=0.0.0.0 BROKER_PORT=8000

WORKDIR /app
RUN useradd --system --uid 10001 --home /app broker
COPY pyproject.toml README.md ./
COPY broker ./broker
COPY mock_vneid ./mock_vneid
RUN pip install --no-cache-dir -e . && mkdir -p /app/var && chown broker /app/var

USER broker
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz').status == 200 else 1)"
CMD ["sh", "-c", "broker db upgrade && exec broker serve"]
