# Multi-stage: build wheels with the toolchain, run from a slim image as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY domain domain
COPY application application
COPY adapters adapters
COPY dataflows dataflows
# Includes entrypoints/api/static/: pyproject's package-data puts it in the wheel.
COPY entrypoints entrypoints
COPY migrations migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 analytics
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER analytics
WORKDIR /home/analytics
# Created as the user so a fresh named volume mounted here is writable (models live here).
RUN mkdir -p /home/analytics/data
ENV ANALYTICS_DATA_DIR=/home/analytics/data PYTHONUNBUFFERED=1
# API; dataflow metrics (9100 + process id, one process per partition); producer metrics.
EXPOSE 8000 9100 9101 9102 9200
ENTRYPOINT ["analytics"]
CMD ["--help"]
