#!/usr/bin/env bash
# Starts only what the app needs to run and to be tested: MySQL and RabbitMQ.
# With Docker when an engine answers; otherwise the local services when they are
# installed (MariaDB, RabbitMQ); otherwise says what to install.
set -euo pipefail
cd "$(dirname "$0")"

answers() { "$@" >/dev/null 2>&1; }
wait_for() { # wait_for <seconds> <what> <command...>
  local seconds=$1 what=$2
  shift 2
  for _ in $(seq "$seconds"); do answers "$@" && return 0; sleep 1; done
  echo "$what did not come up within ${seconds}s" >&2
  return 1
}

if answers docker info && answers docker compose version; then
  echo "Docker answers: starting mysql and rabbit from docker-compose.yml (with the dev ports)."
  docker compose -f docker-compose.yml -f docker-compose.dev.yml up -d --wait mysql rabbit
  echo "MySQL on 127.0.0.1:3306 (DB_USER / DB_PASSWORD of .env), RabbitMQ on 127.0.0.1:5672."
  exit 0
fi

missing=()
if command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; then
  if ! answers mysqladmin --protocol=tcp -h127.0.0.1 -uroot ping; then
    echo "starting the local MariaDB"
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
    wait_for 60 MariaDB mysqladmin --protocol=tcp -h127.0.0.1 -uroot ping
  fi
  echo "MariaDB answers on 127.0.0.1:3306"
else
  missing+=("MariaDB 10.11+ or MySQL 8 (Debian: apt-get install mariadb-server)")
fi
if command -v rabbitmq-server >/dev/null 2>&1; then
  if ! answers rabbitmqctl status; then
    echo "starting the local RabbitMQ"
    rabbitmq-server -detached
    wait_for 90 RabbitMQ rabbitmqctl status
  fi
  rabbitmqctl await_startup >/dev/null
  echo "RabbitMQ answers on 127.0.0.1:5672"
else
  missing+=("RabbitMQ 3.10+ (Debian: apt-get install rabbitmq-server)")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "No Docker engine answers, and these are not installed:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  echo "Install Docker (https://docs.docker.com/engine/install/) or the packages above." >&2
  exit 1
fi
