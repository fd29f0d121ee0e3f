#!/usr/bin/env bash
# The local stack without Docker: Kafka (KRaft), Kafka Connect + Debezium Postgres, Apicurio
# Registry (Confluent API), PostgreSQL and Redis, installed from Maven Central and Debian's
# packages and started as plain processes.
#
#   bash deploy/local/stack.sh up       install what is missing, start everything, wait until ready
#   bash deploy/local/stack.sh down     stop everything this script started
#   bash deploy/local/stack.sh status   one line per service
#   bash deploy/local/stack.sh env      the environment the connector and tests use (eval-able)
#   bash deploy/local/stack.sh stop|start|kill SERVICE
#                                       one service (postgres, redis, kafka, connect, registry;
#                                       stop|start: also prometheus, alertmanager, mailpit, slack-receiver):
#                                       stop gracefully, start and wait until ready, or kill -9
#                                       (postgres: immediate shutdown, i.e. crash recovery on start)
#
# Idempotent: `up` on a running stack only re-checks readiness; `down` on a stopped one is a no-op.
# Every port and path is an environment variable (see deploy/local/env.sh).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=deploy/local/env.sh
source "$here/env.sh"

logs="$PEMS_SYNC_STATE/logs"
run="$PEMS_SYNC_STATE/run"

say() { printf '[stack %(%H:%M:%S)T] %s\n' -1 "$*"; }
die() { say "ERROR: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# helpers

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_until <what> <timeout s> <log file> <command...>: polls, never sleeps blindly past readiness.
wait_until() {
  local what=$1 timeout=$2 log=$3; shift 3
  local start=$SECONDS
  until "$@"; do
    if (( SECONDS - start > timeout )); then
      say "$what not ready after ${timeout}s; last lines of $log:" >&2
      tail -n 40 "$log" >&2 || true
      return 1
    fi
    sleep 0.5
  done
  say "$what ready in $(( SECONDS - start ))s"
}

pid_alive() { [[ -f "$run/$1.pid" ]] && kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; }

stop_pid() {
  local name=$1
  if pid_alive "$name"; then
    local pid; pid=$(cat "$run/$name.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    say "stopped $name (pid $pid)"
  fi
  rm -f "$run/$name.pid"
}

as_postgres() {
  if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

apt_install() {
  [[ $EUID -eq 0 ]] || die "missing Debian packages ($*): run this once as root, or apt-get install them"
  if [[ ! -f "$run/.apt-updated" ]]; then apt-get -o DPkg::Lock::Timeout=600 update -qq >"$logs/apt.log" 2>&1; touch "$run/.apt-updated"; fi
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$@" >>"$logs/apt.log" 2>&1 || die "apt-get install $* failed: see $logs/apt.log"
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

mvn_copy_deps() { # <pom dir> <output dir>
  local pom=$1 out=$2
  [[ -f "$out/.complete" ]] && return 0
  say "resolving $(basename "$pom") jars from Maven Central into $out"
  rm -rf "$out"; mkdir -p "$out"
  (cd "$pom" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$out") >"$logs/mvn-$(basename "$pom").log" 2>&1 \
    || die "maven resolution failed: see $logs/mvn-$(basename "$pom").log"
  touch "$out/.complete"
}

mvn_fetch_archive() { # <g:a:v:type:classifier> <extract dir>
  local artifact=$1 out=$2
  [[ -f "$out/.complete" ]] && return 0
  say "fetching $artifact from Maven Central"
  local tmp; tmp=$(mktemp -d)
  mvn -q -B dependency:copy -Dartifact="$artifact" -DoutputDirectory="$tmp" >"$logs/mvn-fetch.log" 2>&1 \
    || die "could not fetch $artifact: see $logs/mvn-fetch.log"
  rm -rf "$out"; mkdir -p "$out"
  tar xzf "$tmp"/*.tar.gz -C "$out"
  rm -rf "$tmp"
  touch "$out/.complete"
}

# ---------------------------------------------------------------------------------------------
# install (cached under $PEMS_SYNC_CACHE, never inside the repo)

install_all() {
  command -v java >/dev/null || die "java (17+) is required"
  command -v mvn >/dev/null || die "maven is required"
  [[ -n "$(pg_bin)" ]] || apt_install postgresql
  command -v redis-server >/dev/null || apt_install redis-server
  # The console's browser tests drive Debian's Chromium (playwright-core never downloads a browser).
  [[ -x "${PEMS_SYNC_CHROMIUM:-/usr/bin/chromium}" ]] || apt_install chromium
  mvn_copy_deps "$here/maven/kafka" "$PEMS_SYNC_CACHE/kafka-$KAFKA_VERSION/libs"
  mvn_copy_deps "$here/maven/connect" "$PEMS_SYNC_CACHE/connect-$KAFKA_VERSION/libs"
  mvn_fetch_archive "io.debezium:debezium-connector-postgres:$DEBEZIUM_VERSION:tar.gz:plugin" \
    "$PEMS_SYNC_CACHE/connect-plugins-$DEBEZIUM_VERSION"
  mvn_fetch_archive "io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all" \
    "$PEMS_SYNC_CACHE/apicurio-$APICURIO_VERSION"
  # Monitoring (issue 17): Debian's Prometheus and Alertmanager; Mailpit and helm (the chart's
  # tests) from the Go module proxy, cached in $PEMS_SYNC_CACHE/bin.
  { command -v prometheus >/dev/null && command -v promtool >/dev/null; } || apt_install prometheus
  { command -v prometheus-alertmanager >/dev/null && command -v amtool >/dev/null; } || apt_install prometheus-alertmanager
  bash "$here/go-tools.sh" mailpit helm
}

# ---------------------------------------------------------------------------------------------
# services

start_postgres() {
  local bin; bin=$(pg_bin)
  local data="$PEMS_SYNC_STATE/postgres" sock="$PEMS_SYNC_STATE/pg-socket"
  mkdir -p "$sock"
  if [[ $EUID -eq 0 ]]; then chown postgres:postgres "$sock"; fi
  if [[ ! -f "$data/PG_VERSION" ]]; then
    say "initialising PostgreSQL cluster in $data"
    mkdir -p "$data"; [[ $EUID -eq 0 ]] && chown postgres:postgres "$data"
    local pw; pw=$(mktemp); printf '%s' "$PGPASSWORD" >"$pw"; chmod 644 "$pw"
    as_postgres "$bin/initdb" -D "$data" -U postgres --pwfile="$pw" --auth-local=trust --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >"$logs/postgres-init.log" 2>&1 || die "initdb failed: see $logs/postgres-init.log"
    rm -f "$pw"
  fi
  if ! as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    touch "$logs/postgres.log"; [[ $EUID -eq 0 ]] && chown postgres:postgres "$logs/postgres.log"
    # wal_level=logical: Debezium's pgoutput needs logical decoding.
    as_postgres "$bin/pg_ctl" -D "$data" -l "$logs/postgres.log" -w -t 60 start -o \
      "-c port=$PGPORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$sock -c wal_level=logical -c max_wal_senders=10 -c max_replication_slots=10 -c max_connections=200" \
      >/dev/null || die "PostgreSQL did not start: see $logs/postgres.log"
  fi
  wait_until "PostgreSQL" 60 "$logs/postgres.log" as_postgres "$bin/pg_isready" -q -h 127.0.0.1 -p "$PGPORT"
  # Role and database for pems-sync; REPLICATION lets Debezium open a logical slot.
  as_postgres "$bin/psql" -h "$sock" -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -q -d postgres \
    -v user="$PGUSER" -v pw="$PGPASSWORD" -v db="$PGDATABASE" -v app="$PEMS_SYNC_APP_ROLE" -v apppw="$PEMS_SYNC_APP_PASSWORD" >/dev/null <<'SQL'
SELECT format('CREATE ROLE %I LOGIN REPLICATION PASSWORD %L', :'user', :'pw')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'user') \gexec
SELECT format('ALTER ROLE %I LOGIN REPLICATION PASSWORD %L', :'user', :'pw') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'user')
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
-- The processes' role: data access only (grants by migration 011); owns nothing, so it cannot
-- alter tables or disable triggers. Migrations keep running as the owner above.
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'app', :'apppw')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app') \gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD %L', :'app', :'apppw') \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO %I', :'db', :'app') \gexec
SQL
}

stop_postgres() {
  local bin; bin=$(pg_bin); [[ -n "$bin" ]] || return 0
  local data="$PEMS_SYNC_STATE/postgres"
  [[ -f "$data/PG_VERSION" ]] || return 0
  if as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_postgres "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null && say "stopped PostgreSQL"
  fi
}

start_redis() {
  if ! redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --pidfile "$run/redis.pid" \
      --logfile "$logs/redis.log" --save '' --appendonly no --dir "$PEMS_SYNC_STATE"
  fi
  wait_until "Redis" 30 "$logs/redis.log" bash -c "redis-cli -h 127.0.0.1 -p $REDIS_PORT ping 2>/dev/null | grep -q PONG"
}

stop_redis() {
  if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && [[ -f "$run/redis.pid" ]]; then
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    say "stopped Redis"
  fi
  rm -f "$run/redis.pid"
}

start_kafka() {
  local libs="$PEMS_SYNC_CACHE/kafka-$KAFKA_VERSION/libs" dir="$PEMS_SYNC_STATE/kafka"
  mkdir -p "$dir"
  cat >"$dir/server.properties" <<EOF
# Single-node KRaft: this process is both broker and controller.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=$KAFKA_PARTITIONS
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Tests create a consumer group each; no reason to wait 3 s for more members to join.
group.initial.rebalance.delay.ms=0
group.consumer.min.session.timeout.ms=6000
log.retention.hours=168
# Room for oversized change events (see schemas/topics.ts); topics opt in with max.message.bytes.
message.max.bytes=16777216
replica.fetch.max.bytes=16777216
EOF
  write_log4j "$dir/log4j2.properties"
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    local id; id=$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
    say "formatting KRaft storage (cluster $id)"
    java -Dlog4j2.configurationFile="$dir/log4j2.properties" -cp "$libs/*" kafka.tools.StorageTool format --standalone \
      -t "$id" -c "$dir/server.properties" >"$logs/kafka-format.log" 2>&1 || die "storage format failed: see $logs/kafka-format.log"
  fi
  if ! pid_alive kafka; then
    setsid nohup java -Xms256m -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$dir/log4j2.properties" -cp "$libs/*" kafka.Kafka "$dir/server.properties" \
      >"$logs/kafka.log" 2>&1 &
    echo $! >"$run/kafka.pid"
  fi
  wait_until "Kafka broker (127.0.0.1:$KAFKA_PORT)" 120 "$logs/kafka.log" broker_ready
}

broker_ready() {
  pid_alive kafka || { tail -n 30 "$logs/kafka.log" >&2; die "Kafka exited"; }
  port_open "$KAFKA_PORT" && grep -q "Kafka Server started" "$logs/kafka.log"
}

start_connect() {
  local libs="$PEMS_SYNC_CACHE/connect-$KAFKA_VERSION/libs" dir="$PEMS_SYNC_STATE/connect"
  mkdir -p "$dir"
  cat >"$dir/connect-distributed.properties" <<EOF
bootstrap.servers=127.0.0.1:$KAFKA_PORT
group.id=pems-sync-connect
listeners=http://127.0.0.1:$CONNECT_PORT
# Debezium change events as plain JSON: the sink decodes the envelope itself.
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=false
value.converter.schemas.enable=false
offset.storage.topic=_pems_sync_connect_offsets
config.storage.topic=_pems_sync_connect_configs
status.storage.topic=_pems_sync_connect_status
offset.storage.replication.factor=1
config.storage.replication.factor=1
status.storage.replication.factor=1
offset.flush.interval.ms=1000
# Broker restarts: a worker that cannot reach the group coordinator for heartbeat.interval.ms
# revokes its tasks. A Debezium task stopped while Kafka is away blocks in send() and, past the
# graceful timeout, is abandoned still holding the replication slot, so its successor cannot
# stream. A longer heartbeat rides out short broker restarts; a long graceful timeout lets a
# stopping task finish once the broker is back and release the slot (see tests/faults/infra-restarts).
heartbeat.interval.ms=10000
session.timeout.ms=30000
task.shutdown.graceful.timeout.ms=90000
# Debezium must be able to hand an oversized row to Kafka so the sink can dead-letter it.
producer.max.request.size=16777216
plugin.path=$PEMS_SYNC_CACHE/connect-plugins-$DEBEZIUM_VERSION
# Secrets in connector configs are references (\${env:NAME}), resolved inside the worker only.
config.providers=env
config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider
EOF
  write_log4j "$dir/log4j2.properties"
  if ! pid_alive connect; then
    PEMS_SYNC_PG_PASSWORD="$PGPASSWORD" setsid nohup java -Xms256m -Xmx"$CONNECT_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$dir/log4j2.properties" -cp "$libs/*" \
      org.apache.kafka.connect.cli.ConnectDistributed "$dir/connect-distributed.properties" \
      >"$logs/connect.log" 2>&1 &
    echo $! >"$run/connect.pid"
  fi
  wait_until "Kafka Connect REST (127.0.0.1:$CONNECT_PORT)" 180 "$logs/connect.log" connect_ready
}

connect_ready() {
  pid_alive connect || { tail -n 30 "$logs/connect.log" >&2; die "Kafka Connect exited"; }
  curl -fsS "http://127.0.0.1:$CONNECT_PORT/connector-plugins" 2>/dev/null | grep -q PostgresConnector
}

register_debezium() {
  (cd "$repo" && npx --no-install tsx connectors/debezium/register.ts) >>"$logs/register.log" 2>&1 \
    || { tail -n 20 "$logs/register.log" >&2; die "Debezium connector registration failed: see $logs/register.log"; }
  wait_until "Debezium connector RUNNING" 120 "$logs/connect.log" debezium_running
}

debezium_running() {
  local s; s=$(curl -fsS "http://127.0.0.1:$CONNECT_PORT/connectors/$DEBEZIUM_CONNECTOR_NAME/status" 2>/dev/null) || return 1
  if grep -q '"FAILED"' <<<"$s"; then echo "$s" >&2; die "Debezium connector FAILED"; fi
  [[ $(grep -o '"state":"RUNNING"' <<<"$s" | wc -l) -ge 2 ]] # connector and its task
}

# Apicurio 3.x is compiled for Java 21 (class file 65); Kafka runs on the default 17.
registry_java() {
  if [[ -n "${REGISTRY_JAVA:-}" ]]; then echo "$REGISTRY_JAVA"; return; fi
  local j
  for j in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-21-jdk-amd64 /usr/lib/jvm/java-25-openjdk-amd64 /usr/lib/jvm/java-21-openjdk-amd64; do
    [[ -x "$j/bin/java" ]] && { echo "$j/bin/java"; return; }
  done
  die "Apicurio Registry $APICURIO_VERSION needs Java 21+: install one or set REGISTRY_JAVA"
}

start_registry() {
  local dir="$PEMS_SYNC_CACHE/apicurio-$APICURIO_VERSION"
  local java; java=$(registry_java)
  if ! pid_alive registry; then
    # In-memory storage (the default): schemas live as long as the process, like a test registry.
    setsid nohup "$java" -Xms128m -Xmx"$REGISTRY_HEAP" -Djava.awt.headless=true \
      -Dquarkus.http.port="$REGISTRY_PORT" -Dquarkus.http.host=127.0.0.1 \
      -Dquarkus.management.port="$REGISTRY_MANAGEMENT_PORT" -Dquarkus.management.host=127.0.0.1 \
      -Dquarkus.log.file.enable=false -Dapicurio.rest.deletion.artifact.enabled=true \
      -Dapicurio.rest.deletion.artifact-version.enabled=true -Dapicurio.rest.deletion.group.enabled=true \
      -jar "$dir/quarkus-run.jar" >"$logs/registry.log" 2>&1 &
    echo $! >"$run/registry.pid"
  fi
  wait_until "Schema registry (Apicurio, 127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7)" 180 "$logs/registry.log" registry_ready
}

registry_ready() {
  pid_alive registry || { tail -n 30 "$logs/registry.log" >&2; die "Apicurio Registry exited"; }
  curl -fsS "http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7/subjects" >/dev/null 2>&1
}

write_log4j() {
  cat >"$1" <<'EOF'
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.kafkaserver.name = kafka.server.KafkaServer
logger.kafkaserver.level = INFO
logger.brokerserver.name = kafka.server.BrokerServer
logger.brokerserver.level = INFO
logger.kraft.name = kafka.server.KafkaRaftServer
logger.kraft.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
logger.connect.name = org.apache.kafka.connect
logger.connect.level = INFO
logger.reflections.name = org.reflections
logger.reflections.level = ERROR
logger.debezium.name = io.debezium
logger.debezium.level = INFO
EOF
}

create_topics() {
  (cd "$repo" && npx --no-install tsx deploy/local/create-topics.ts) >>"$logs/topics.log" 2>&1 \
    || { tail -n 20 "$logs/topics.log" >&2; die "topic creation failed: see $logs/topics.log"; }
  say "$(tail -n 1 "$logs/topics.log")"
}

migrate() {
  (cd "$repo" && npx --no-install tsx schemas/migrate.ts latest) >>"$logs/migrate.log" 2>&1 \
    || { tail -n 30 "$logs/migrate.log" >&2; die "migrations failed: see $logs/migrate.log"; }
  say "migrations applied"
}

# ---------------------------------------------------------------------------------------------
# Monitoring (issue 17): Prometheus (the production rules plus $PROMETHEUS_RULES_DIR, targets
# from $PROMETHEUS_TARGETS_DIR), Alertmanager (deploy/alertmanager/alertmanager.yml pointed at
# Mailpit and the Slack receiver), Mailpit, and the Slack-compatible receiver.

service_ready() { # <name> <url>
  pid_alive "$1" || { tail -n 30 "$logs/$1.log" >&2; die "$1 exited"; }
  curl -fsS "$2" >/dev/null 2>&1
}

start_prometheus() {
  local dir="$PEMS_SYNC_STATE/prometheus"
  mkdir -p "$dir/data" "$PROMETHEUS_TARGETS_DIR" "$PROMETHEUS_RULES_DIR"
  cat >"$dir/prometheus.yml" <<EOF
# Generated by deploy/local/stack.sh
global:
  scrape_interval: $PROMETHEUS_SCRAPE_INTERVAL
  evaluation_interval: $PROMETHEUS_SCRAPE_INTERVAL
  external_labels:
    runbook_base: "$PEMS_SYNC_RUNBOOK_BASE_URL"
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:$ALERTMANAGER_PORT"]
rule_files:
  - "$repo/deploy/helm/pems-sync/files/pems-sync.rules.yml"
  - "$PROMETHEUS_RULES_DIR/*.yml"
scrape_configs:
  # pems-sync processes: each target file carries the component label (sink, source, control-api).
  - job_name: pems-sync
    file_sd_configs:
      - files: ["$PROMETHEUS_TARGETS_DIR/*.json"]
        refresh_interval: 2s
  - job_name: prometheus
    static_configs:
      - targets: ["127.0.0.1:$PROMETHEUS_PORT"]
  - job_name: alertmanager
    static_configs:
      - targets: ["127.0.0.1:$ALERTMANAGER_PORT"]
EOF
  # The processes run by hand: PEMS_SYNC_HTTP_PORT=$SINK_OPS_PORT npm run sink, and so on.
  cat >"$PROMETHEUS_TARGETS_DIR/processes.json" <<EOF
[
  {"targets": ["127.0.0.1:$SINK_OPS_PORT"], "labels": {"component": "sink"}},
  {"targets": ["127.0.0.1:$CONTROL_API_OPS_PORT"], "labels": {"component": "control-api"}},
  {"targets": ["127.0.0.1:$SOURCE_OPS_PORT"], "labels": {"component": "source"}}
]
EOF
  promtool check config "$dir/prometheus.yml" >"$logs/prometheus-check.log" 2>&1 || { cat "$logs/prometheus-check.log" >&2; die "invalid Prometheus config"; }
  if ! pid_alive prometheus; then
    setsid nohup prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
      --storage.tsdb.retention.time=1d --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --web.enable-lifecycle \
      >"$logs/prometheus.log" 2>&1 &
    echo $! >"$run/prometheus.pid"
  else
    curl -fsS -X POST "http://127.0.0.1:$PROMETHEUS_PORT/-/reload" >/dev/null 2>&1 || true
  fi
  wait_until "Prometheus (127.0.0.1:$PROMETHEUS_PORT)" 60 "$logs/prometheus.log" service_ready prometheus "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"
}

start_alertmanager() {
  local dir="$PEMS_SYNC_STATE/alertmanager"
  mkdir -p "$dir/data"
  (cd "$repo" && npx --no-install tsx deploy/local/alertmanager-config.ts "$dir/alertmanager.yml") >"$logs/alertmanager-config.log" 2>&1 \
    || { cat "$logs/alertmanager-config.log" >&2; die "could not write the local Alertmanager config"; }
  amtool check-config "$dir/alertmanager.yml" >"$logs/alertmanager-check.log" 2>&1 || { cat "$logs/alertmanager-check.log" >&2; die "invalid Alertmanager config"; }
  if ! pid_alive alertmanager; then
    # --cluster.listen-address= : a single instance, no gossip port.
    setsid nohup prometheus-alertmanager --config.file="$dir/alertmanager.yml" --storage.path="$dir/data" \
      --web.listen-address="127.0.0.1:$ALERTMANAGER_PORT" --cluster.listen-address= \
      >"$logs/alertmanager.log" 2>&1 &
    echo $! >"$run/alertmanager.pid"
  else
    curl -fsS -X POST "http://127.0.0.1:$ALERTMANAGER_PORT/-/reload" >/dev/null 2>&1 || true
  fi
  wait_until "Alertmanager (127.0.0.1:$ALERTMANAGER_PORT)" 60 "$logs/alertmanager.log" service_ready alertmanager "http://127.0.0.1:$ALERTMANAGER_PORT/-/ready"
}

mailpit_ready() {
  service_ready mailpit "http://127.0.0.1:$MAILPIT_HTTP_PORT/api/v1/info" && port_open "$MAILPIT_SMTP_PORT"
}

start_mailpit() {
  local dir="$PEMS_SYNC_STATE/mailpit"
  mkdir -p "$dir"
  if ! pid_alive mailpit; then
    setsid nohup "$PEMS_SYNC_CACHE/bin/mailpit" --smtp "127.0.0.1:$MAILPIT_SMTP_PORT" --listen "127.0.0.1:$MAILPIT_HTTP_PORT" \
      --database "$dir/mailpit.db" --smtp-auth-accept-any --smtp-auth-allow-insecure --disable-version-check \
      >"$logs/mailpit.log" 2>&1 &
    echo $! >"$run/mailpit.pid"
  fi
  wait_until "Mailpit (SMTP 127.0.0.1:$MAILPIT_SMTP_PORT, HTTP 127.0.0.1:$MAILPIT_HTTP_PORT)" 30 "$logs/mailpit.log" mailpit_ready
}

start_slack_receiver() {
  if ! pid_alive slack-receiver; then
    SLACK_RECEIVER_PORT="$SLACK_RECEIVER_PORT" setsid nohup node "$here/slack-receiver.mjs" \
      </dev/null >"$logs/slack-receiver.log" 2>&1 &
    echo $! >"$run/slack-receiver.pid"
  fi
  wait_until "Slack receiver (127.0.0.1:$SLACK_RECEIVER_PORT)" 30 "$logs/slack-receiver.log" service_ready slack-receiver "http://127.0.0.1:$SLACK_RECEIVER_PORT/healthz"
}

start_monitoring() {
  start_mailpit
  start_slack_receiver
  start_alertmanager
  start_prometheus
}

stop_monitoring() {
  stop_pid prometheus
  stop_pid alertmanager
  stop_pid slack-receiver
  stop_pid mailpit
}

# ---------------------------------------------------------------------------------------------

cmd_up() {
  local t0=$SECONDS
  # One installer at a time per cache: two stacks set up at once on one machine would otherwise
  # extract the same archive into the same folder together and leave a broken copy marked complete.
  mkdir -p "$PEMS_SYNC_CACHE"
  (
    flock 9
    install_all
  ) 9>"$PEMS_SYNC_CACHE/.install.lock"
  say "installed in $(( SECONDS - t0 ))s; starting services"
  local t1=$SECONDS
  start_postgres
  start_redis
  start_kafka
  create_topics
  # Connect and the registry are JVMs that take a while: start both, then wait for both.
  start_registry &
  local reg=$!
  migrate
  start_connect
  register_debezium
  wait "$reg" || die "schema registry failed to start"
  start_monitoring
  say "stack ready in $(( SECONDS - t1 ))s (install $(( t1 - t0 ))s); logs in $logs"
}

cmd_down() {
  stop_monitoring
  stop_pid connect
  stop_pid registry
  stop_pid kafka
  stop_redis
  stop_postgres
}

cmd_status() {
  printf '%-10s %s\n' postgres "$(as_postgres "$(pg_bin)/pg_isready" -h 127.0.0.1 -p "$PGPORT" 2>&1 || true)"
  printf '%-10s %s\n' redis "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>&1 || true)"
  printf '%-10s %s\n' kafka "$(pid_alive kafka && echo "pid $(cat "$run/kafka.pid") port $KAFKA_PORT" || echo stopped)"
  printf '%-10s %s\n' connect "$(curl -fsS "http://127.0.0.1:$CONNECT_PORT/connectors/$DEBEZIUM_CONNECTOR_NAME/status" 2>/dev/null || echo stopped)"
  printf '%-10s %s\n' registry "$(pid_alive registry && echo "pid $(cat "$run/registry.pid") port $REGISTRY_PORT" || echo stopped)"
  printf '%-10s %s\n' prometheus "$(curl -fsS "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" 2>/dev/null || echo stopped)"
  printf '%-10s %s\n' alertmanager "$(curl -fsS "http://127.0.0.1:$ALERTMANAGER_PORT/-/ready" 2>/dev/null || echo stopped)"
  printf '%-10s %s\n' mailpit "$(pid_alive mailpit && echo "pid $(cat "$run/mailpit.pid") smtp $MAILPIT_SMTP_PORT http $MAILPIT_HTTP_PORT" || echo stopped)"
  printf '%-10s %s\n' slack "$(curl -fsS "http://127.0.0.1:$SLACK_RECEIVER_PORT/healthz" 2>/dev/null || echo stopped)"
  for p in kafka connect registry; do
    pid_alive "$p" && printf '%-10s rss %s MiB\n' "$p" "$(( $(awk '/VmRSS/{print $2}' "/proc/$(cat "$run/$p.pid")/status") / 1024 ))"
  done
  return 0
}

cmd_env() {
  env | grep -E '^(PEMS_SYNC_|KAFKA_|PG|REDIS_|REGISTRY_|CONNECT_|DEBEZIUM_|CDC_|PROMETHEUS_|ALERTMANAGER_|MAILPIT_|SLACK_RECEIVER_)' | grep -v -E 'PASSWORD|SECRET|KEY' | sort
}

# One service at a time (the fault-injection suite stops and restarts them under load).
cmd_service() {
  local action=$1 service=${2:-}
  case "$action:$service" in
    stop:postgres) stop_postgres ;;
    stop:redis) stop_redis ;;
    stop:kafka|stop:connect|stop:registry|stop:prometheus|stop:alertmanager|stop:mailpit|stop:slack-receiver) stop_pid "$service" ;;
    kill:postgres)
      local bin; bin=$(pg_bin)
      as_postgres "$bin/pg_ctl" -D "$PEMS_SYNC_STATE/postgres" -m immediate -w stop >/dev/null && say "PostgreSQL stopped (immediate)" ;;
    kill:kafka|kill:connect|kill:registry)
      if pid_alive "$service"; then kill -9 "$(cat "$run/$service.pid")"; say "killed $service (pid $(cat "$run/$service.pid"))"; fi
      rm -f "$run/$service.pid" ;;
    start:postgres) start_postgres ;;
    start:redis) start_redis ;;
    start:kafka) start_kafka ;;
    start:registry) start_registry ;;
    start:prometheus) start_prometheus ;;
    start:alertmanager) start_alertmanager ;;
    start:mailpit) start_mailpit ;;
    start:slack-receiver) start_slack_receiver ;;
    # The connector's config and offsets live in Kafka: a restarted worker resumes Debezium by itself.
    start:connect) start_connect; wait_until "Debezium connector RUNNING" 120 "$logs/connect.log" debezium_running ;;
    *) echo "usage: $0 stop|start|kill postgres|redis|kafka|connect|registry (stop|start also prometheus|alertmanager|mailpit|slack-receiver)" >&2; exit 2 ;;
  esac
}

mkdir -p "$logs" "$run"
[[ $EUID -eq 0 ]] && chmod 755 "$PEMS_SYNC_STATE" "$logs"
case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  stop|start|kill) cmd_service "$1" "${2:-}" ;;
  *) echo "usage: $0 up|down|status|env|stop SERVICE|start SERVICE|kill SERVICE" >&2; exit 2 ;;
esac
