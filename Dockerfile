# The feedback service: `feedback serve` by default; the same image runs
# `feedback migrate`, `feedback worker`, `feedback check`, ... (see docker-compose.yml).

# ---- build: install the project and its dependencies into a virtualenv ----
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

WORKDIR /src
# Only what the wheel needs: the metadata, the packages and the migrations folder
# that pyproject.toml force-includes.
COPY pyproject.toml README.md requirements.lock ./
COPY feedback ./feedback
COPY analytics ./analytics
COPY bot ./bot
COPY migrations ./migrations
# the versions the tests ran with (requirements.lock)
RUN pip install -c requirements.lock .

# ---- runtime ----
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH="/opt/venv/bin:$PATH" \
    FEEDBACK_HOST=0.0.0.0 \
    FEEDBACK_PORT=8000

RUN groupadd --system --gid 10001 feedback \
    && useradd --system --uid 10001 --gid feedback --home-dir /app --shell /usr/sbin/nologin feedback \
    && mkdir -p /app \
    && chown feedback:feedback /app

COPY --from=build /opt/venv /opt/venv

# The working directory holds nothing but the default SQLite file (when no
# FEEDBACK_DATABASE_URL is given), so it must be writable by the service user.
WORKDIR /app
USER feedback

EXPOSE 8000

# 200 when the database answers, 503 (urlopen raises, exit status 1) when it does not.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["feedback", "serve", "--host", "0.0.0.0", "--port", "8000"]
