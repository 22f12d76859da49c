#!/usr/bin/env bash
# Builds and starts the whole MyMONIT stack with Docker Compose, waits until
# every service is healthy, and prints where things are.
#   ./run.sh          the stack as in production (443, 5672, 5601 published)
#   ./run.sh --dev    plus docker-compose.dev.yml (80, 5000, 3306, 15672, 9200)
#   ./run.sh down     stops it (volumes are kept)
set -euo pipefail
cd "$(dirname "$0")"

compose=(docker compose -f docker-compose.yml)
if [ "${1:-}" = "--dev" ]; then compose+=(-f docker-compose.dev.yml); shift; fi

if ! docker compose version >/dev/null 2>&1; then
  echo "Docker Compose v2 is needed (docker compose ...): https://docs.docker.com/compose/install/" >&2
  exit 1
fi
if [ "${1:-}" = "down" ]; then exec "${compose[@]}" down; fi
if [ ! -f .env ]; then
  echo "No .env: copy .env.example to .env and set its passwords and Firebase project first." >&2
  exit 1
fi
tls_dir=$(sed -n 's/^TLS_DIR=//p' .env | tail -1)
tls_dir=${tls_dir:-./containers/nginx/tls}
if [ ! -s "$tls_dir/tls.crt" ]; then
  echo "No TLS certificate in $tls_dir: making a self-signed one for development."
  ./containers/nginx/make-dev-cert.sh "$tls_dir"
fi

"${compose[@]}" build
# --wait: returns once every service is healthy (and the one-shot jobs are done), fails otherwise.
"${compose[@]}" up -d --wait --wait-timeout 600

cat <<INFO

MyMONIT is up.
  App (HTTPS, Swagger UI at /docs):  https://localhost/
  RabbitMQ for instruments:          amqp://localhost:5672 (give them a publish-only account: docs/deployment.md, "Instruments' broker account")
  Kibana (user elastic):             http://localhost:5601/app/dashboards#/view/mymonit-audit
First admin:
  docker compose exec app node containers/app/dist/cli/admin-create.js --user-id A1 --uid <firebase uid> --name "<full name>" --email <email>
Logs: docker compose logs -f app     Stop: ./run.sh down
INFO
