#!/usr/bin/env bash
# A TLS reverse proxy (Debian's nginx-light) in front of a real Mesos master, the way DC/OS's Admin Router and
# company ingresses expose Mesos, for the end-to-end tests of the client's TLS options (issue 17).
#
#   scripts/tls-proxy.sh start [MASTER_URL]   # MASTER_URL defaults to $MESOS_MASTER_URL (http://HOST:PORT)
#   scripts/tls-proxy.sh stop [DIR]           # DIR defaults to $SWIFT_MESOS_TLS_PROXY_DIR; always exits 0
#
# `start` makes, in DIR, a private CA, a server certificate for localhost and 127.0.0.1 (subjectAltName) and a
# client certificate, both signed by that CA, then starts nginx on 127.0.0.1 only, with its own configuration,
# pid file, logs and temporary directories under DIR (never the system's nginx service):
#   port A (https://localhost:A):  TLS; `/` proxies to the master, and `/mesos/` too with the prefix stripped
#                                  (DC/OS style: /mesos/api/v1/scheduler reaches /api/v1/scheduler);
#   port B (https://localhost:B):  the same, but a client certificate signed by the private CA is required.
# Responses are not buffered (the scheduler's RecordIO event stream flows as the master writes it), the read
# timeout is an hour, request bodies and every header (Mesos-Stream-Id both ways) pass through unchanged.
# It checks /version through both ports (and under /mesos/) before it reports success, then prints the
# variables below on standard output and writes them to DIR/env (sourceable):
#   MESOS_TLS_PROXY_URL=https://localhost:A        MESOS_TLS_PROXY_MTLS_URL=https://localhost:B
#   MESOS_TLS_PROXY_CA=DIR/ca.pem                  MESOS_TLS_CLIENT_CERT=DIR/client.pem
#   MESOS_TLS_CLIENT_KEY=DIR/client.key            MESOS_TLS_PROXY_DIR=DIR
# Only the nginx whose pid file is in DIR and whose command line names DIR/nginx.conf is signalled.
# Environment: SWIFT_MESOS_TLS_PROXY_DIR (DIR; default: a new mktemp -d), SWIFT_MESOS_TLS_PROXY_PORT (A, default
#              8443), SWIFT_MESOS_TLS_PROXY_MTLS_PORT (B, default 8444), NGINX (the binary; default nginx).
set -euo pipefail
set +m

here=$(cd "$(dirname "$0")" && pwd)
port_a=${SWIFT_MESOS_TLS_PROXY_PORT:-8443}
port_b=${SWIFT_MESOS_TLS_PROXY_MTLS_PORT:-8444}

die() { echo "tls-proxy.sh: ERROR: $*" >&2; exit 1; }
usage() { die "usage: tls-proxy.sh start [MASTER_URL] | stop [DIR]"; }
# nginx overwrites its environment with its process title, which keeps the command line: "nginx: master
# process nginx -p DIR -c DIR/nginx.conf -e DIR/error.log".
ours() { [ -n "$1" ] && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "-c $2/nginx.conf "; }
alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
valid_port() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1024 ] && [ "$1" -le 65535 ]; }
server_pid() {  # server_pid DIR: the nginx master's pid if ours runs, else nothing
    local pid
    pid=$(cat "$1/nginx.pid" 2>/dev/null || true)
    if ours "$pid" "$1" && alive "$pid"; then echo "$pid"; fi
}
# The workers of our nginx master (its children).
workers() { ps -o pid= --ppid "$1" 2>/dev/null || true; }

# make_certificates DIR: a CA, a server certificate (localhost, 127.0.0.1) and a client certificate, valid 7 days.
make_certificates() {
    local dir=$1
    (
        cd "$dir"
        umask 077
        openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
        openssl req -x509 -new -key ca.key -sha256 -days 7 -subj "/CN=swift-mesos test CA" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
            -out ca.pem 2>/dev/null
        local name usage subject extra
        for name in server client; do
            if [ "$name" = server ]; then
                subject="/CN=localhost"
                usage=serverAuth
                extra="subjectAltName=DNS:localhost,IP:127.0.0.1"
            else
                subject="/CN=swift-mesos-test-client"
                usage=clientAuth
                extra="subjectAltName=DNS:swift-mesos-test-client"
            fi
            openssl ecparam -name prime256v1 -genkey -noout -out "$name.key" 2>/dev/null
            openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr" 2>/dev/null
            printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
                "extendedKeyUsage=$usage" "$extra" >"$name.ext"
            openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" \
                -sha256 -days 7 -extfile "$name.ext" -out "$name.pem" 2>/dev/null
            rm -f "$name.csr" "$name.ext"
        done
        # The certificates are public; the tests (and curl) read them.
        chmod 644 ca.pem server.pem client.pem
        openssl verify -CAfile ca.pem server.pem client.pem >/dev/null
    ) || die "could not make the certificates in $dir (openssl)"
}

# write_config DIR UPSTREAM(host:port): nginx.conf for both ports.
write_config() {
    local dir=$1 upstream=$2 user_line=""
    # As root nginx runs its workers as an unprivileged user; they need their temporary directories.
    if [ "$(id -u)" -eq 0 ]; then
        user_line="user nobody nogroup;"
        chown -R nobody:nogroup "$dir/tmp"
        chmod 711 "$dir"
    fi
    local routes
    routes=$(cat <<EOF
        # DC/OS style: everything under /mesos/ reaches the master with the prefix stripped.
        location /mesos/ {
            proxy_pass http://$upstream/;
        }
        location = /mesos {
            return 301 /mesos/;
        }
        location / {
            proxy_pass http://$upstream;
        }
EOF
)
    cat >"$dir/nginx.conf" <<EOF
# Written by scripts/tls-proxy.sh for the swift-mesos tests; everything lives under $dir.
$user_line
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log info;
events {
    worker_connections 256;
}
http {
    access_log $dir/access.log;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    client_max_body_size 64m;

    ssl_certificate $dir/server.pem;
    ssl_certificate_key $dir/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;

    # The scheduler's SUBSCRIBE answer is an endless chunked RecordIO stream: no buffering either way, and an
    # idle stream (heartbeats every 15 s) is not cut.
    proxy_http_version 1.1;
    proxy_buffering off;
    proxy_request_buffering off;
    proxy_read_timeout 3600s;
    proxy_send_timeout 3600s;
    send_timeout 3600s;
    proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto https;

    server {
        listen 127.0.0.1:$port_a ssl;
        server_name localhost;
$routes
    }
    server {
        listen 127.0.0.1:$port_b ssl;
        server_name localhost;
        ssl_client_certificate $dir/ca.pem;
        ssl_verify_client on;
        ssl_verify_depth 2;
$routes
    }
}
EOF
}

# check DIR PATH [curl options...]: GET https://localhost:PORT/PATH answers 200 through the proxy.
answers() {
    local status
    status=$(curl -s -o /dev/null -w '%{http_code}' -m 5 --cacert "$1/ca.pem" "${@:3}" "$2" 2>/dev/null || true)
    [ "$status" = 200 ]
}

[ "$#" -ge 1 ] || usage
case "$1" in
start)
    [ "$#" -le 2 ] || usage
    master=${2:-${MESOS_MASTER_URL:-}}
    [ -n "$master" ] || die "no master: give MASTER_URL or set MESOS_MASTER_URL"
    master=${master%/}
    [[ "$master" =~ ^http://([A-Za-z0-9.-]+):([0-9]+)$ ]] ||
        die "MASTER_URL must be http://HOST:PORT (the master's own plain-HTTP address), not '$master'"
    upstream="${BASH_REMATCH[1]}:${BASH_REMATCH[2]}"
    valid_port "$port_a" || die "bad SWIFT_MESOS_TLS_PROXY_PORT '$port_a' (1024-65535)"
    valid_port "$port_b" || die "bad SWIFT_MESOS_TLS_PROXY_MTLS_PORT '$port_b' (1024-65535)"
    [ "$port_a" != "$port_b" ] || die "the TLS and mutual-TLS ports must differ"
    "$here/install-deps.sh"
    nginx=${NGINX:-nginx}
    command -v "$nginx" >/dev/null || nginx=/usr/sbin/nginx
    [ -x "$(command -v "$nginx" || true)" ] || die "nginx not found (apt-get install nginx-light)"
    command -v openssl >/dev/null || die "openssl not found (apt-get install openssl)"

    if [ -n "${SWIFT_MESOS_TLS_PROXY_DIR:-}" ]; then
        mkdir -p "$SWIFT_MESOS_TLS_PROXY_DIR"
        dir=$(cd "$SWIFT_MESOS_TLS_PROXY_DIR" && pwd)
    else
        dir=$(mktemp -d /tmp/swift-mesos-tls-proxy.XXXXXX)
        # A directory made here goes again when the start fails.
        started=0
        trap '[ "$started" -eq 1 ] || rm -rf "$dir"' EXIT
    fi
    if [ -n "$(server_pid "$dir")" ]; then
        die "a proxy of $dir already runs (pid $(server_pid "$dir")): stop it first (tls-proxy.sh stop $dir)"
    fi
    for port in "$port_a" "$port_b"; do
        listening "$port" && die "something already listens on 127.0.0.1:$port"
    done
    mkdir -p "$dir/tmp"
    rm -f "$dir/nginx.pid" "$dir/error.log" "$dir/access.log" "$dir/env"
    make_certificates "$dir"
    write_config "$dir" "$upstream"
    # nginx binds both ports, then daemonizes: a failure to start shows in its exit status.
    "$nginx" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" </dev/null ||
        { tail -n 20 "$dir/error.log" >&2 2>/dev/null || true; die "nginx did not start (see $dir/error.log)"; }
    pid=""
    for _ in $(seq 1 50); do
        pid=$(server_pid "$dir")
        [ -n "$pid" ] && break
        sleep 0.1
    done
    [ -n "$pid" ] || die "nginx started but wrote no pid file in $dir"
    # The proxy is ready when the master answers through it, on both ports and under the prefix.
    ready=0
    for _ in $(seq 1 50); do
        if answers "$dir" "https://localhost:$port_a/version" &&
            answers "$dir" "https://localhost:$port_a/mesos/version" &&
            answers "$dir" "https://localhost:$port_b/mesos/version" --cert "$dir/client.pem" --key "$dir/client.key"; then
            ready=1
            break
        fi
        sleep 0.2
    done
    if [ "$ready" -ne 1 ]; then
        tail -n 4 "$dir/error.log" >&2 || true
        "$0" stop "$dir"
        die "the master at $master does not answer /version through the proxy (is it up?)"
    fi
    started=1
    cat >"$dir/env" <<EOF
MESOS_TLS_PROXY_URL=https://localhost:$port_a
MESOS_TLS_PROXY_MTLS_URL=https://localhost:$port_b
MESOS_TLS_PROXY_CA=$dir/ca.pem
MESOS_TLS_CLIENT_CERT=$dir/client.pem
MESOS_TLS_CLIENT_KEY=$dir/client.key
MESOS_TLS_PROXY_DIR=$dir
EOF
    echo "tls-proxy.sh: nginx (pid $pid) proxies https://localhost:$port_a and (client certificate required)" \
        "https://localhost:$port_b to $master; files in $dir" >&2
    cat "$dir/env"
    ;;
stop)
    [ "$#" -le 2 ] || usage
    dir=${2:-${SWIFT_MESOS_TLS_PROXY_DIR:-${MESOS_TLS_PROXY_DIR:-}}}
    [ -n "$dir" ] || usage
    [ -d "$dir" ] || exit 0
    dir=$(cd "$dir" && pwd)
    pid=$(server_pid "$dir")
    if [ -n "$pid" ]; then
        children=$(workers "$pid")
        # TERM: nginx's fast shutdown (the master stops its workers, open streams are cut).
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            alive "$pid" || break
            sleep 0.1
        done
        if alive "$pid"; then
            kill -KILL "$pid" 2>/dev/null || true
            # shellcheck disable=SC2086  # one pid per word
            [ -z "$children" ] || kill -KILL $children 2>/dev/null || true
        fi
        echo "tls-proxy.sh: stopped nginx pid $pid" >&2
    fi
    rm -f "$dir/nginx.pid"
    ;;
*) usage ;;
esac
