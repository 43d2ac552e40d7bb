#!/usr/bin/env bash
# One-time (and re-runnable) setup of the course environment:
#   1. a Python virtual environment in .venv with the `labs` package and its pinned dependencies
#   2. the JVM side of the stack from Maven Central (jvm/pom.xml -> var/jvm/)
#   3. MariaDB's server binaries (apt, when missing and we are root)
#   4. bubblewrap, the private filesystem view of graded notebooks (apt, when missing and we are root)
#   5. Chromium, the browser the browser tests drive (apt, when missing and we are root; tests only)
#   6. toxiproxy's server, the fault injector of lab S6 (built with Go from the Go module proxy)
# Every step is skipped when its inputs did not change since it last succeeded.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STAMPS=var/setup
mkdir -p "$STAMPS"
PY=${PYTHON:-python3}
step() { printf '\n[%s/8] %s\n' "$1" "$2"; }
die() { printf '\nsetup: %s\n' "$*" >&2; exit 1; }
fingerprint() { cat "$@" | sha256sum | cut -c1-16; }
fresh() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
# apt_install WHY PACKAGE...: install with apt-get when we are root on Debian/Ubuntu; fails otherwise
apt_install() {
  local why=$1; shift
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 1
  echo "  installing $* with apt-get ($why)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q && apt-get install -y -q --no-install-recommends "$@"
}

step 1 "Checking Java and Maven"
command -v java >/dev/null || die "Java 17+ is missing. Install it: sudo apt-get install -y openjdk-17-jdk-headless  (conda: conda env create -f environment.yml)"
JAVA_MAJOR=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
[ "${JAVA_MAJOR:-0}" -ge 17 ] || die "Java ${JAVA_MAJOR:-?} found; the stack needs Java 17 or newer: sudo apt-get install -y openjdk-17-jdk-headless"
command -v mvn >/dev/null || die "Maven is missing. Install it: sudo apt-get install -y maven"
echo "  java $JAVA_MAJOR, $(mvn -v 2>/dev/null | head -1)"

step 2 "Python environment (.venv)"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10) or sys.version_info >= (3, 14))' \
  || die "$PY is $("$PY" -V 2>&1); use Python 3.10 to 3.13: PYTHON=python3.12 make setup"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv || die "could not create .venv; on Debian/Ubuntu run: sudo apt-get install -y python3-venv"
fi
KEY=$(fingerprint pyproject.toml)
if fresh pip "$KEY" && .venv/bin/python -c 'import labs, pyspark, nbgrader' 2>/dev/null; then
  echo "  up to date"
else
  .venv/bin/python -m pip install --progress-bar on --upgrade pip
  .venv/bin/python -m pip install --progress-bar on -e ".[dev]"
  echo "$KEY" > "$STAMPS/pip"
fi
# Airflow's metadata database, migrated once per Airflow version; each run of lab S5 copies it
.venv/bin/python -c 'from labs import orchestrators; print("  Airflow metadata template:", orchestrators.template())' \
  || die "Airflow could not migrate its metadata database (see above); run make setup again"

step 3 "JVM components from Maven Central (Kafka, Connect, Debezium, Apicurio, Spark-Kafka)"
KEY=$(fingerprint jvm/pom.xml jvm/*/pom.xml)
if fresh jvm "$KEY" && [ -d var/jvm/kafka ] && [ -d var/jvm/plugins ] && [ -d var/jvm/apicurio ] && [ -d var/jvm/spark-kafka ]; then
  echo "  up to date"
else
  rm -rf var/jvm
  mvn -B -ntp -f jvm/pom.xml -Dlabs.jvm.dir="$ROOT/var/jvm" package || die "Maven could not fetch the stack's jars; check your network or proxy (~/.m2/settings.xml), then run make setup again"
  rm -rf jvm/target jvm/*/target
  echo "$KEY" > "$STAMPS/jvm"
  du -sh var/jvm/* | sed 's/^/  /'
fi

step 4 "MariaDB server binaries"
if command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ]; then
  echo "  $( (command -v mariadbd || echo /usr/sbin/mariadbd) ) found"
elif apt_install "the system service is not used; the stack runs its own server" mariadb-server mariadb-client; then
  :
else
  die "MariaDB is missing. Run: sudo apt-get install -y mariadb-server mariadb-client   (macOS: brew install mariadb), then make setup again"
fi

step 5 "bubblewrap (the private filesystem view of graded notebooks)"
if command -v bwrap >/dev/null; then
  echo "  $(command -v bwrap) found"
elif apt_install "the private view of graded notebooks" bubblewrap; then
  :
else
  echo "  bubblewrap is missing: labs grade will run student code without a private view of the files"
  echo "  (install it: sudo apt-get install -y bubblewrap; macOS has no equivalent, grading there is for trying out)"
fi

step 6 "iptables (keeps graded notebooks off the internal ports behind the gate)"
if command -v iptables >/dev/null || [ -x /usr/sbin/iptables ]; then
  echo "  $(command -v iptables || echo /usr/sbin/iptables) found"
elif apt_install "graded notebooks reach Kafka Connect and the registry only through the gate" iptables; then
  :
else
  echo "  iptables is missing: labs grade will not keep student code off the internal ports of Connect and the registry"
  echo "  (install it: sudo apt-get install -y iptables; grading outside Linux is for trying out)"
fi

step 7 "Chromium (the browser tests drive JupyterLab and the grading report in it)"
if command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null; then
  echo "  $(command -v chromium || command -v chromium-browser || command -v google-chrome) found"
elif apt_install "only the browser tests use it" chromium; then
  :
else
  echo "  Chromium is missing: the browser tests (pytest -m browser) will fail until you install it"
  echo "  (sudo apt-get install -y chromium; macOS: brew install --cask chromium)"
fi

step 8 "toxiproxy (the fault injector each run of lab S6 starts for itself)"
TOXIPROXY=v2.12.0
TOXIPROXY_BIN=var/cache/bin/toxiproxy-server
GO=$(command -v go || ls /usr/local/go/bin/go /usr/lib/go/bin/go 2>/dev/null | head -1 || true)
if fresh toxiproxy "$TOXIPROXY" && [ -x "$TOXIPROXY_BIN" ]; then
  echo "  up to date ($TOXIPROXY_BIN)"
else
  if [ -z "$GO" ] && apt_install "to build toxiproxy's server" golang-go; then GO=$(command -v go); fi
  [ -n "$GO" ] || die "Go is missing; toxiproxy's server is built with it: sudo apt-get install -y golang-go (macOS: brew install go), then make setup again"
  mkdir -p var/cache/bin var/cache/go-build
  GOBIN="$ROOT/var/cache/go-build" GOFLAGS=-mod=mod "$GO" install "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY" \
    || die "Go could not build toxiproxy $TOXIPROXY (see above); check your network or GOPROXY, then make setup again"
  mv -f var/cache/go-build/server "$TOXIPROXY_BIN" && rmdir var/cache/go-build
  echo "$TOXIPROXY" > "$STAMPS/toxiproxy"
  echo "  built $TOXIPROXY_BIN ($("$TOXIPROXY_BIN" -version 2>&1 | head -1))"
fi

printf '\nsetup done. Next: make stack-up (or make lab / make test / make grade)\n'
