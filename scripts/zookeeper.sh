#!/usr/bin/env bash
# Starts and stops a private standalone ZooKeeper (Debian's `zookeeper` package, 3.8) for the discovery tests.
#
#   scripts/zookeeper.sh start PORT DIR   # 127.0.0.1:PORT, config and data under DIR; waits until it answers
#   scripts/zookeeper.sh stop DIR         # SIGTERM (SIGKILL after 10 s); always exits 0
#   scripts/zookeeper.sh pause DIR        # SIGSTOP: the server stops answering (session-expiry tests)
#   scripts/zookeeper.sh resume DIR       # SIGCONT
#   scripts/zookeeper.sh pid DIR          # prints the server's pid
#
# `start` keeps DIR/data when it exists, so stop + start is a restart with the same sessions and nodes; use a
# new DIR for a fresh server. tickTime is 500 ms, so session timeouts may lie between 1 s and 10 s. The admin
# server is off; the four-letter words ruok/stat/srvr/mntr/wchp are on (the election tests read watches with
# wchp). Only the process whose pid file is in DIR and whose environment carries SWIFT_MESOS_ZK=DIR is ever
# signalled.
# Environment: ZOOKEEPER_HOME (default /usr/share/zookeeper), ZOOKEEPER_START_TIMEOUT (seconds, default 30).
set -euo pipefail
set +m

ZK_HOME=${ZOOKEEPER_HOME:-/usr/share/zookeeper}
TIMEOUT=${ZOOKEEPER_START_TIMEOUT:-30}

die() { echo "zookeeper.sh: ERROR: $*" >&2; exit 1; }
usage() { die "usage: zookeeper.sh start PORT DIR | stop DIR | pause DIR | resume DIR | pid DIR"; }
ours() { [ -n "$1" ] && grep -qzxF "SWIFT_MESOS_ZK=$2" "/proc/$1/environ" 2>/dev/null; }
alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
# Bounded as a whole: against a paused or half-started server the connect or the write can block.
ruok() { timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && echo ruok >&3 && timeout 2 cat <&3' _ "$1" 2>/dev/null || true; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
absolute() { mkdir -p "$1" && (cd "$1" && pwd); }
server_pid() {  # server_pid DIR: the pid if our server runs, else nothing
    local pid
    pid=$(cat "$1/zk.pid" 2>/dev/null || true)
    if ours "$pid" "$1" && alive "$pid"; then echo "$pid"; fi
}

[ "$#" -ge 2 ] || usage
command=$1
case "$command" in
start)
    [ "$#" -eq 3 ] || usage
    port=$2
    [[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] || die "bad PORT '$port'"
    [[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "bad ZOOKEEPER_START_TIMEOUT '$TIMEOUT'"
    dir=$(absolute "$3")
    [ -x "$ZK_HOME/bin/zkServer.sh" ] || die "$ZK_HOME/bin/zkServer.sh not found (apt-get install zookeeper)"
    if [ -n "$(server_pid "$dir")" ]; then
        echo "zookeeper.sh: already running on 127.0.0.1:$port (pid $(server_pid "$dir"))" >&2
        exit 0
    fi
    listening "$port" && die "something already listens on 127.0.0.1:$port"
    mkdir -p "$dir/data"
    cat >"$dir/zoo.cfg" <<EOF
tickTime=500
initLimit=10
syncLimit=5
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,stat,srvr,mntr,wchp
EOF
    rm -f "$dir/zk.pid"
    # The inner bash writes its own pid and execs zkServer.sh, which execs java: the pid is the JVM's.
    # shellcheck disable=SC2016  # $$ and $@ belong to the inner bash
    SWIFT_MESOS_ZK=$dir ZOO_LOG_DIR=$dir setsid bash -c 'echo $$ >"$0"; exec "$@"' "$dir/zk.pid" \
        "$ZK_HOME/bin/zkServer.sh" start-foreground "$dir/zoo.cfg" >"$dir/zk.log" 2>&1 </dev/null &
    for _ in $(seq 1 $((TIMEOUT * 5))); do
        pid=$(cat "$dir/zk.pid" 2>/dev/null || true)
        if [ -n "$pid" ] && [ "$(ruok "$port")" = imok ]; then
            echo "zookeeper.sh: up on 127.0.0.1:$port (pid $pid, dir $dir)" >&2
            exit 0
        fi
        if [ -n "$pid" ] && ! alive "$pid"; then break; fi
        sleep 0.2
    done
    tail -n 20 "$dir/zk.log" >&2 || true
    pid=$(server_pid "$dir")
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    die "ZooKeeper did not start on 127.0.0.1:$port (see $dir/zk.log)"
    ;;
stop)
    [ "$#" -eq 2 ] || usage
    [ -d "$2" ] || exit 0
    dir=$(absolute "$2")
    pid=$(server_pid "$dir")
    if [ -n "$pid" ]; then
        kill -CONT "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            alive "$pid" || break
            sleep 0.1
        done
        alive "$pid" && kill -KILL "$pid" 2>/dev/null
        echo "zookeeper.sh: stopped pid $pid" >&2
    fi
    rm -f "$dir/zk.pid"
    ;;
pause | resume | pid)
    [ "$#" -eq 2 ] || usage
    dir=$(absolute "$2")
    pid=$(server_pid "$dir")
    [ -n "$pid" ] || die "no ZooKeeper of $dir is running"
    case "$command" in
    pause) kill -STOP "$pid" ;;
    resume) kill -CONT "$pid" ;;
    pid) echo "$pid" ;;
    esac
    ;;
*) usage ;;
esac
