# The production image: gunicorn serves the app, whitenoise its static files.
FROM python:3.13-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings

RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 musterrolle

WORKDIR /app
COPY requirements.lock .
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements.lock

COPY . .
# collectstatic needs settings that load; the real secret comes at run time.
RUN DJANGO_SECRET_KEY=build-only DJANGO_DEBUG=0 MUSTERROLLE_SITE_URL=http://build.invalid \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/var && chown -R musterrolle /app/var

USER musterrolle
EXPOSE 8000
# The database only (a Redis outage must not mark the web unhealthy), asked under the first
# allowed host name: Django refuses a Host it does not know.
HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD curl -fsS -H "Host: ${DJANGO_ALLOWED_HOSTS%%,*}" "http://127.0.0.1:8000/healthz?check=database" || exit 1
# No gunicorn access log: the app logs every request as a JSON line without query strings.
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
