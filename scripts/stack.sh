#!/usr/bin/env bash
# Local test stack for edgepipe: real servers on 127.0.0.1, no Docker.
#   kafka : Apache Kafka 3.9.1, KRaft single node (broker+controller), jars from Maven Central
#   mongo : FerretDB v1.24 (MongoDB wire protocol), SQLite backend, built from scripts/ferretdb/
#   postgres : PostgreSQL 15 from Debian, wal_level=logical, database/role `edgepipe`,
#              publication `edgepipe_cdc` FOR ALL TABLES (for the postgres_cdc source)
#
# Usage: scripts/stack.sh up | down [--purge] | reset | status | stop NAME | start NAME
#        NAME is kafka, mongo or postgres.  Every subcommand is idempotent.
#
# Environment (all optional):
#   EDGEPIPE_CACHE           downloads + builds          (default $HOME/.cache/edgepipe)
#   EDGEPIPE_STACK_DIR       runtime data, pids, logs    (default $EDGEPIPE_CACHE/stack)
#   EDGEPIPE_STACK_TIMEOUT   seconds to wait for a server to answer   (default 90)
#   EDGEPIPE_STOP_TIMEOUT    seconds to wait after SIGTERM before SIGKILL (default 60)
#   EDGEPIPE_KAFKA_PORT      broker listener              (default 9092)
#   EDGEPIPE_KAFKA_CONTROLLER_PORT  KRaft controller listener (default 9093)
#   EDGEPIPE_KAFKA_HEAP      JVM -Xmx/-Xms for Kafka      (default 512m)
#   EDGEPIPE_MONGO_PORT      FerretDB listener            (default 27017)
#   EDGEPIPE_PYTHON          python with pymongo          (default python3)
#   EDGEPIPE_PG_PORT         PostgreSQL listener          (default 5432)
#   EDGEPIPE_PG_PASSWORD     password of role `edgepipe`  (default edgepipe)
#   EDGEPIPE_PG_USER         OS user that runs PostgreSQL when this script runs as root
#                            (default postgres, created if missing; PostgreSQL refuses root)
set -euo pipefail

readonly KAFKA_VERSION=3.9.1
readonly SCALA_VERSION=2.13
readonly SLF4J_VERSION=1.7.36
# Fixed KRaft cluster id (base64url of the 16 bytes "edgepipe-stack-1"): no state to keep
# in sync, and a purged data dir formats to the same id.
readonly KAFKA_CLUSTER_ID=ZWRnZXBpcGUtc3RhY2stMQ

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
readonly FERRET_SRC="$SCRIPT_DIR/ferretdb"

CACHE=${EDGEPIPE_CACHE:-$HOME/.cache/edgepipe}
STACK=${EDGEPIPE_STACK_DIR:-$CACHE/stack}
START_TIMEOUT=${EDGEPIPE_STACK_TIMEOUT:-90}
STOP_TIMEOUT=${EDGEPIPE_STOP_TIMEOUT:-60}
KAFKA_PORT=${EDGEPIPE_KAFKA_PORT:-9092}
KAFKA_CTRL_PORT=${EDGEPIPE_KAFKA_CONTROLLER_PORT:-9093}
KAFKA_HEAP=${EDGEPIPE_KAFKA_HEAP:-512m}
MONGO_PORT=${EDGEPIPE_MONGO_PORT:-27017}
PY=${EDGEPIPE_PYTHON:-python3}
PG_PORT=${EDGEPIPE_PG_PORT:-5432}
PG_PASSWORD=${EDGEPIPE_PG_PASSWORD:-edgepipe}

readonly KAFKA_HOME="$CACHE/kafka-$KAFKA_VERSION"
readonly KAFKA_LIBS="$KAFKA_HOME/libs"
readonly FERRET_BIN="$CACHE/bin/edgepipe-ferretdb"
readonly PG_BIN=/usr/lib/postgresql/15/bin
readonly LOGS="$STACK/logs"
declare -A LAUNCHED=()  # name -> $SECONDS at launch, for the start-up time report

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

# Run as root directly, otherwise through sudo (for apt-get).
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

apt_install() {
    log "installing Debian package(s): $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 ||
        { as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
}

# --------------------------------------------------------------------------- helpers

# Prints the pid of server NAME if its pid file points at a live process that is
# really that server (guards against a stale pid reused by something else).
live_pid() {
    local name=$1 pidfile="$STACK/$1.pid" pid marker
    [[ -f $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    case $name in kafka) marker=kafka.Kafka ;; mongo) marker=edgepipe-ferretdb ;; postgres) marker="$PG_BIN/postgres" ;; esac
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$marker" || return 1
    echo "$pid"
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# Starts "$@" in its own session (so it survives this shell and never gets its
# SIGHUP); the child writes its own pid before exec'ing, so the pid file is exact.
# fd 9 (our lock) is closed so the server does not hold the lock forever.
launch() {
    local name=$1 dir=$2; shift 2
    rm -f "$STACK/$name.pid"
    LAUNCHED[$name]=$SECONDS
    printf '\n===== %s start %s =====\n' "$name" "$(date -Is)" >>"$LOGS/$name.log"
    # shellcheck disable=SC2016  # expanded by the child bash, on purpose
    setsid bash -c 'echo $$ >"$1"; cd "$2"; shift 2; exec "$@"' _ "$STACK/$name.pid" "$dir" "$@" \
        </dev/null >>"$LOGS/$name.log" 2>&1 9>&- &
    local i
    for ((i = 0; i < 50; i++)); do [[ -s $STACK/$name.pid ]] && return 0; sleep 0.1; done
    die "$name: no pid file after launch; see $LOGS/$name.log"
}

# Polls CHECK until it succeeds, the process dies, or the deadline passes.
wait_ready() {
    local name=$1 check=$2 pid deadline=$((SECONDS + START_TIMEOUT))
    while :; do
        if ! pid=$(live_pid "$name"); then
            fail_start "$name" "exited during start-up"
        fi
        if "$check" 2>/dev/null; then
            log "$name is up (pid $pid${LAUNCHED[$name]:+, $((SECONDS - LAUNCHED[$name]))s after launch}); log: $LOGS/$name.log"
            return 0
        fi
        if ((SECONDS >= deadline)); then
            # Report first (the log shows the hang), then stop it so the next `up` starts clean.
            report_failure "$name" "did not answer within ${START_TIMEOUT}s; stopping it"
            stop_one "$name" >/dev/null 2>&1 || true
            exit 1
        fi
        sleep 0.5
    done
}

report_failure() {
    printf '[stack] ERROR: %s %s. Last 40 lines of %s:\n' "$1" "$2" "$LOGS/$1.log" >&2
    tail -n 40 "$LOGS/$1.log" >&2 || true
}

fail_start() { report_failure "$@"; exit 1; }

# ---------------------------------------------------------------------------- kafka

kafka_ready() {
    port_open "$KAFKA_PORT" || return 1
    # A metadata answer that lists our broker means the broker (not just the socket) is up.
    kcat -b "127.0.0.1:$KAFKA_PORT" -L -m 3 2>/dev/null | grep -q 'broker 1 at'
}

ensure_kcat() { command -v kcat >/dev/null || apt_install kcat; }

# Fetches Kafka's jars (+ an slf4j->reload4j logging binding) with Maven into the cache.
# A stamp holding the pom's hash makes this a no-op once done and re-runs it if the pom changes.
ensure_kafka_libs() {
    command -v java >/dev/null || die "java not found (Kafka $KAFKA_VERSION needs Java 11+)"
    local pom="$KAFKA_HOME/pom.xml" stamp="$KAFKA_LIBS/.complete" want
    mkdir -p "$KAFKA_HOME"
    cat >"$pom.new" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by edgepipe scripts/stack.sh: only used to fetch Kafka's jars. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>edgepipe.stack</groupId>
  <artifactId>kafka-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_$SCALA_VERSION</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>$SLF4J_VERSION</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <!-- pinned: Maven 3.8's default dependency plugin is very old -->
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>3.8.1</version>
      </plugin>
    </plugins>
  </build>
</project>
EOF
    mv "$pom.new" "$pom"
    want=$(sha256sum <"$pom" | cut -d' ' -f1)
    [[ -f $stamp && $(<"$stamp") == "$want" ]] && return 0

    command -v mvn >/dev/null || apt_install maven
    log "fetching Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_LIBS"
    rm -rf "$KAFKA_LIBS.tmp"
    # Own local repo under the cache so one directory holds every download.
    # runtime scope: everything Kafka needs at run time, no test/provided jars.
    # Output to a log: Maven 3.8 -q still prints stray colour codes.
    if ! mvn -q -B -Dstyle.color=never -f "$pom" -Dmaven.repo.local="$CACHE/m2" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS.tmp" \
        >"$LOGS/mvn-kafka.log" 2>&1; then
        tail -n 30 "$LOGS/mvn-kafka.log" >&2
        die "mvn could not fetch Kafka's jars (is Maven Central reachable?); log: $LOGS/mvn-kafka.log"
    fi
    compgen -G "$KAFKA_LIBS.tmp/kafka_$SCALA_VERSION-$KAFKA_VERSION.jar" >/dev/null ||
        die "mvn finished but kafka_$SCALA_VERSION-$KAFKA_VERSION.jar is missing in $KAFKA_LIBS.tmp"
    # Exactly one slf4j binding: if a transitive logback sneaked in, slf4j could pick it.
    rm -f "$KAFKA_LIBS.tmp"/logback-*.jar
    echo "$want" >"$KAFKA_LIBS.tmp/.complete"
    rm -rf "$KAFKA_LIBS" && mv "$KAFKA_LIBS.tmp" "$KAFKA_LIBS"
}

# Config is rewritten on every start (cheap, and picks up port changes); data is not touched.
write_kafka_config() {
    local dir="$STACK/kafka"
    mkdir -p "$dir/data"
    cat >"$dir/server.properties" <<EOF
# Generated by edgepipe scripts/stack.sh -- KRaft single node, broker and controller in one JVM.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CTRL_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CTRL_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
# single node: internal topics cannot have more than one replica
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
auto.create.topics.enable=true
num.partitions=1
# consumers in tests join a group at once instead of waiting 3 s
group.initial.rebalance.delay.ms=0
# 2-core machines: fewer threads than the defaults
num.network.threads=2
num.io.threads=4
EOF
    cat >"$dir/log4j.properties" <<'EOF'
# Generated by edgepipe scripts/stack.sh -- everything to stdout, which goes to logs/kafka.log.
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.authorizer.logger=WARN
log4j.logger.state.change.logger=WARN
EOF
}

start_kafka() {
    local pid
    if pid=$(live_pid kafka); then
        log "kafka already running (pid $pid)"
        return 0
    fi
    port_open "$KAFKA_PORT" && die "127.0.0.1:$KAFKA_PORT is taken by a process this script did not start"
    ensure_kcat
    ensure_kafka_libs
    write_kafka_config
    local dir="$STACK/kafka"
    # Format once; meta.properties marks a formatted log dir (--ignore-formatted makes a re-run harmless).
    if [[ ! -f $dir/data/meta.properties ]]; then
        log "formatting KRaft storage (cluster id $KAFKA_CLUSTER_ID)"
        java -cp "$KAFKA_LIBS/*" -Dlog4j.configuration="file:$dir/log4j.properties" \
            kafka.tools.StorageTool format -t "$KAFKA_CLUSTER_ID" -c "$dir/server.properties" --ignore-formatted \
            >>"$LOGS/kafka.log" 2>&1 || fail_start kafka "storage format failed"
    fi
    log "starting kafka on 127.0.0.1:$KAFKA_PORT (log: $LOGS/kafka.log)"
    launch kafka "$dir" java "-Xmx$KAFKA_HEAP" "-Xms$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
        -Dlog4j.configuration="file:$dir/log4j.properties" -cp "$KAFKA_LIBS/*" \
        kafka.Kafka "$dir/server.properties"
}

# ---------------------------------------------------------------------------- mongo

ensure_pymongo() {
    "$PY" -c 'import pymongo' 2>/dev/null && return 0
    log "installing pymongo for $PY"
    if ! "$PY" -m pip install -q pymongo >/dev/null 2>&1; then
        # Debian's system python refuses pip installs (PEP 668): use the Debian package.
        apt_install python3-pymongo
        PY=/usr/bin/python3
    fi
    "$PY" -c 'import pymongo' || die "pymongo is not importable by $PY"
}

mongo_ready() {
    port_open "$MONGO_PORT" || return 1
    "$PY" - "$MONGO_PORT" <<'EOF'
import sys
from pymongo import MongoClient
c = MongoClient(f"mongodb://127.0.0.1:{sys.argv[1]}", serverSelectionTimeoutMS=2000, connectTimeoutMS=2000)
assert c.admin.command("ping").get("ok") == 1.0
EOF
}

# Builds the FerretDB wrapper into the cache, only when its source (or the Go version) changed.
ensure_ferretdb_bin() {
    if ! command -v go >/dev/null; then
        [[ -x $FERRET_BIN ]] && { log "go not found: using the cached $FERRET_BIN as is"; return 0; }
        die "go not found (needed once to build FerretDB from $FERRET_SRC)"
    fi
    local stamp="$FERRET_BIN.src-sha256" want
    want=$( (cat "$FERRET_SRC/go.mod" "$FERRET_SRC/go.sum" "$FERRET_SRC/main.go"; go version) | sha256sum | cut -d' ' -f1)
    [[ -x $FERRET_BIN && -f $stamp && $(<"$stamp") == "$want" ]] && return 0
    log "building FerretDB wrapper into $FERRET_BIN (first time takes ~1-2 min)"
    mkdir -p "$(dirname "$FERRET_BIN")"
    # -mod=mod: a fresh machine may fill in missing go.sum lines instead of failing;
    # -buildvcs=false: no VCS stamping from the (possibly commit-less) edgepipe repo.
    (cd "$FERRET_SRC" && GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod -buildvcs=false" \
        go build -trimpath -o "$FERRET_BIN.tmp" .) || die "go build of $FERRET_SRC failed"
    mv "$FERRET_BIN.tmp" "$FERRET_BIN"
    echo "$want" >"$stamp"
}

start_mongo() {
    local pid
    if pid=$(live_pid mongo); then
        log "mongo already running (pid $pid)"
        return 0
    fi
    port_open "$MONGO_PORT" && die "127.0.0.1:$MONGO_PORT is taken by a process this script did not start"
    ensure_pymongo
    ensure_ferretdb_bin
    # The SQLite backend needs the directory to exist (the wrapper also creates it).
    mkdir -p "$STACK/mongo/data"
    log "starting mongo (FerretDB) on 127.0.0.1:$MONGO_PORT (log: $LOGS/mongo.log)"
    launch mongo "$STACK/mongo" "$FERRET_BIN" -listen-addr "127.0.0.1:$MONGO_PORT" -data-dir "$STACK/mongo/data"
}

# ------------------------------------------------------------------------- postgres

# PostgreSQL refuses to run as root: as root we run it as $EDGEPIPE_PG_USER (default the Debian
# `postgres` system user), otherwise as ourselves. The data dir lives under the stack dir.
pg_user() {
    if [[ $(id -u) -eq 0 ]]; then echo "${EDGEPIPE_PG_USER:-postgres}"; else id -un; fi
}

# Runs "$@" as the PostgreSQL user (setpriv execs in place: no extra process, exact pid files).
as_pg() {
    if [[ $(id -u) -eq 0 ]]; then
        setpriv --reuid="$(pg_user)" --regid="$(id -g "$(pg_user)")" --init-groups "$@"
    else
        "$@"
    fi
}

ensure_postgres() {
    if [[ ! -x $PG_BIN/postgres ]]; then
        apt_install postgresql-15
        # Debian starts a cluster "15 main" on 5432 at install; this stack runs its own.
        if as_root pg_lsclusters -h 2>/dev/null | grep -q '^15 *main '; then
            log "dropping the Debian cluster 15/main the install just created"
            as_root pg_dropcluster --stop 15 main
        fi
    fi
    [[ -x $PG_BIN/postgres ]] || die "$PG_BIN/postgres missing after installing postgresql-15"
    command -v psql >/dev/null || apt_install postgresql-client-15
    local user
    user=$(pg_user)
    if ! id "$user" >/dev/null 2>&1; then
        log "creating system user $user to run PostgreSQL"
        as_root useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$user"
    fi
}

# The PostgreSQL user must reach the data dir; a stack dir under a private home (/root is 0700)
# gets execute-only (traverse) ACL entries for that user on the blocking ancestors, nothing more.
ensure_pg_reachable() {
    local user dir
    [[ $(id -u) -eq 0 ]] || return 0
    user=$(pg_user)
    as_pg test -x "$STACK" && return 0
    command -v setfacl >/dev/null || apt_install acl
    dir=$STACK
    while [[ $dir != / ]]; do
        if ! as_pg test -x "$dir"; then
            log "granting $user traverse (x) on $dir via ACL so PostgreSQL can reach its data dir"
            setfacl -m "u:$user:x" "$dir"
        fi
        dir=$(dirname "$dir")
    done
    as_pg test -x "$STACK" || die "user $user cannot reach $STACK; set EDGEPIPE_STACK_DIR elsewhere"
}

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2; }

# Settings that follow the environment (port, socket dir) are rewritten on every start into a
# file that postgresql.conf includes; the data itself is initialised once.
write_pg_config() {
    local dir="$STACK/postgres"
    cat >"$dir/data/edgepipe.conf.new" <<EOC
# Generated by edgepipe scripts/stack.sh on every start.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$dir/run'
wal_level = logical
max_replication_slots = 16
max_wal_senders = 16
max_connections = 50
shared_buffers = 64MB
password_encryption = 'scram-sha-256'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
EOC
    cat >"$dir/data/pg_hba.conf.new" <<'EOC'
# Generated by edgepipe scripts/stack.sh. The socket dir is private to the PostgreSQL user
# (mode 0700), so trust there only admits that user (and root); TCP needs a password.
local   all             all                     trust
host    all             all     127.0.0.1/32    scram-sha-256
host    replication     all     127.0.0.1/32    scram-sha-256
EOC
    mv "$dir/data/edgepipe.conf.new" "$dir/data/edgepipe.conf"
    mv "$dir/data/pg_hba.conf.new" "$dir/data/pg_hba.conf"
    chown "$(pg_user):" "$dir/data/edgepipe.conf" "$dir/data/pg_hba.conf" 2>/dev/null || true
}

start_postgres() {
    local pid
    if pid=$(live_pid postgres); then
        log "postgres already running (pid $pid)"
        return 0
    fi
    port_open "$PG_PORT" && die "127.0.0.1:$PG_PORT is taken by a process this script did not start"
    ensure_postgres
    local dir="$STACK/postgres" user
    user=$(pg_user)
    mkdir -p "$dir"
    ensure_pg_reachable
    if [[ ! -f $dir/data/PG_VERSION ]]; then
        log "initialising PostgreSQL data dir $dir/data (user $user)"
        rm -rf "$dir/data"
        install -d -m 0700 -o "$user" "$dir/data"
        as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
            -E UTF8 --locale=C.UTF-8 >>"$LOGS/postgres.log" 2>&1 || fail_start postgres "initdb failed"
        echo "include_if_exists = 'edgepipe.conf'" >>"$dir/data/postgresql.conf"
    fi
    install -d -m 0700 -o "$user" "$dir/run"
    write_pg_config
    touch "$LOGS/postgres.log"
    chown "$user" "$LOGS/postgres.log" 2>/dev/null || true
    # A stale postmaster.pid from a kill -9 is handled by PostgreSQL itself (it checks the pid).
    log "starting postgres on 127.0.0.1:$PG_PORT (log: $LOGS/postgres.log)"
    local -a run_as=()
    [[ $(id -u) -eq 0 ]] && run_as=(setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups)
    launch postgres "$dir" "${run_as[@]}" "$PG_BIN/postgres" -D "$dir/data"
}

# Creates role, database and publication if missing; updates the role's password. Idempotent.
# The password goes through the environment (\getenv), never onto a command line.
setup_postgres() {
    local sock="$STACK/postgres/run"
    EDGEPIPE_PG_PASSWORD=$PG_PASSWORD as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" \
        -p "$PG_PORT" -U postgres -d postgres >>"$LOGS/postgres.log" 2>&1 <<'EOS' ||
\getenv pw EDGEPIPE_PG_PASSWORD
SELECT 'CREATE ROLE edgepipe' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'edgepipe') \gexec
ALTER ROLE edgepipe LOGIN REPLICATION PASSWORD :'pw';
SELECT 'CREATE DATABASE edgepipe OWNER edgepipe' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'edgepipe') \gexec
\connect edgepipe
SELECT 'CREATE PUBLICATION edgepipe_cdc FOR ALL TABLES' WHERE NOT EXISTS (SELECT FROM pg_publication WHERE pubname = 'edgepipe_cdc') \gexec
EOS
        fail_start postgres "setting up role/database/publication failed"
    log "postgres: database edgepipe, role edgepipe (LOGIN REPLICATION), publication edgepipe_cdc ready"
}

# ------------------------------------------------------------------------- commands

# SIGTERM, wait with a deadline, then SIGKILL. Kafka shuts down cleanly on SIGTERM,
# so its data survives stop/start. PostgreSQL gets SIGINT (fast shutdown): SIGTERM would wait
# for every client, and a replication client never leaves on its own.
stop_one() {
    local name=$1 pid deadline sig=TERM
    [[ $name == postgres ]] && sig=INT
    if ! pid=$(live_pid "$name"); then
        rm -f "$STACK/$name.pid"
        log "$name not running"
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill "-$sig" "$pid" 2>/dev/null || true
    deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name still alive after ${STOP_TIMEOUT}s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    rm -f "$STACK/$name.pid"
}

start_named() {
    case $1 in
        kafka) start_kafka && wait_ready kafka kafka_ready ;;
        mongo) start_mongo && wait_ready mongo mongo_ready ;;
        postgres) start_postgres && wait_ready postgres pg_ready && setup_postgres ;;
        *) usage ;;
    esac
}

cmd_up() {
    # Fetch Kafka's jars and build FerretDB at the same time: on a cold cache both are slow.
    if ! live_pid kafka >/dev/null || ! live_pid mongo >/dev/null; then
        local jpid gpid rc=0
        ensure_kafka_libs >"$LOGS/fetch-kafka.log" 2>&1 &
        jpid=$!
        ensure_ferretdb_bin >"$LOGS/build-ferretdb.log" 2>&1 &
        gpid=$!
        wait "$jpid" || { rc=1; log "kafka jar fetch failed:"; tail -n 30 "$LOGS/fetch-kafka.log" >&2; }
        wait "$gpid" || { rc=1; log "FerretDB build failed:"; tail -n 30 "$LOGS/build-ferretdb.log" >&2; }
        ((rc == 0)) || exit 1
        cat "$LOGS/fetch-kafka.log" "$LOGS/build-ferretdb.log" >&2
    fi
    # Launch both, then wait: the JVM start overlaps with FerretDB's.
    start_kafka
    start_mongo
    start_postgres
    wait_ready postgres pg_ready
    setup_postgres
    wait_ready mongo mongo_ready
    wait_ready kafka kafka_ready
    log "stack up: kafka 127.0.0.1:$KAFKA_PORT, mongo mongodb://127.0.0.1:$MONGO_PORT, postgres 127.0.0.1:$PG_PORT"
    log "logs: $LOGS/kafka.log $LOGS/mongo.log $LOGS/postgres.log"
}

cmd_down() {
    stop_one kafka
    stop_one mongo
    stop_one postgres
    if [[ ${1:-} == --purge ]]; then
        log "deleting data dirs $STACK/kafka $STACK/mongo $STACK/postgres (caches in $CACHE kept)"
        rm -rf "$STACK/kafka" "$STACK/mongo" "$STACK/postgres"
    fi
}

cmd_status() {
    local name pid addr state rc=0
    for name in kafka mongo postgres; do
        case $name in
            kafka) addr=127.0.0.1:$KAFKA_PORT ;; mongo) addr=127.0.0.1:$MONGO_PORT ;; postgres) addr=127.0.0.1:$PG_PORT ;;
        esac
        if pid=$(live_pid "$name"); then
            if "${name/postgres/pg}_ready" 2>/dev/null; then state=answering; else state="running, NOT answering"; rc=3; fi
        else
            pid=-
            state=stopped
            rc=3
        fi
        printf '%-8s pid %-8s %-16s %-24s log: %s\n' "$name" "$pid" "$addr" "$state" "$LOGS/$name.log"
    done
    return "$rc"
}

usage() {
    cat >&2 <<'EOF'
usage: scripts/stack.sh up | down [--purge] | reset | status | stop NAME | start NAME
  NAME: kafka | mongo | postgres
  status exits 0 when every server answers, 3 otherwise.
EOF
    exit 2
}

main() {
    [[ $# -ge 1 ]] || usage
    mkdir -p "$CACHE" "$LOGS"
    # One stack.sh at a time per stack dir (tests may call it concurrently).
    exec 9>"$STACK/.lock"
    flock -w 600 9 || die "could not lock $STACK/.lock"

    case $1 in
        up) cmd_up ;;
        down) [[ $# -eq 1 || ${2:-} == --purge ]] || usage; cmd_down "${2:-}" ;;
        reset) cmd_down --purge ;;
        status) ensure_kcat; ensure_pymongo; cmd_status ;;
        stop) [[ $# -eq 2 ]] || usage; [[ $2 == kafka || $2 == mongo || $2 == postgres ]] || usage; stop_one "$2" ;;
        start) [[ $# -eq 2 ]] || usage; start_named "$2" ;;
        *) usage ;;
    esac
}

main "$@"
