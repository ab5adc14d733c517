#!/usr/bin/env bash
# Install what the real stack needs, skipping each step that is already done.
#   Keycloak  : Maven Central org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:tar.gz (mvn dependency:copy)
#   JDK       : picked from /usr/lib/jvm (Temurin 25 preferred; OpenJDK 17 works too)
#   MinIO     : go install github.com/minio/minio@$MINIO_MODULE_VERSION (bucket made with boto3, no mc)
#   MLflow    : python venv with mlflow==$MLFLOW_VERSION + boto3
#   NGINX     : Debian package nginx (built --with-http_auth_request_module)
#   oauth2proxy: go install github.com/oauth2-proxy/oauth2-proxy/v7@$OAUTH2_PROXY_VERSION; not in the default set,
#               only `npm run bench:nginx` (the side-by-side comparison) needs it and installs it on first use
#   Chromium  : Debian package chromium, for the browser e2e tests (driven by playwright-core; no browser download)
#   debs      : Debian packages redis-server (shared state of several replicas; built with TLS), openssl (the Redis
#               TLS tests make a throwaway CA with it), wrk (NGINX-level benchmark), gcc + libc6-dev (the
#               bench's fixed-rate load client, scripts/bench/fixed-rate.c, and its unit tests),
#               libnginx-mod-http-set-misc and libnginx-mod-http-cache-purge (the optional NGINX decision cache)
#   prometheus: prometheus + promtool, go install github.com/prometheus/prometheus/cmd/...@$PROMETHEUS_MODULE_VERSION
#               (-tags remove_all_sd: static targets only, no cloud SDKs to compile; no web UI assets)
#   helm      : go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION
#   k8sschemas: python venv with $K8S_VALIDATE_SPEC (Kubernetes schemas bundled: validates offline) and the
#               prometheus-operator CRDs (ServiceMonitor schema) from its Go module's example/prometheus-operator-crd/
#   oauth2proxy: go install github.com/oauth2-proxy/oauth2-proxy/v7@$OAUTH2_PROXY_VERSION (only for npm run bench:nginx)
# Usage: scripts/stack/install.sh [keycloak|minio|mlflow|nginx|debs|chromium|prometheus|helm|k8sschemas|oauth2proxy ...]
#        (default: the stack's parts, up to minio; the others are the deployment tests' and the NGINX benchmark's tools)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mkdir -p "$NGINX_AUTHZ_CACHE"/{dl,bin,keycloak}

step() { local t0=$SECONDS; log "== $1"; "install_$1"; log "== $1 done in $((SECONDS - t0))s"; }

install_nginx() {
  if [[ -x "$NGINX_BIN" ]] && "$NGINX_BIN" -V 2>&1 | grep -q -- '--with-http_auth_request_module'; then
    log "nginx present: $("$NGINX_BIN" -v 2>&1)"; return
  fi
  local sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  # Keep the package's postinst from starting a system nginx on 0.0.0.0:80.
  local made_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null; $sudo chmod 755 /usr/sbin/policy-rc.d; made_policy=1
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends nginx >/dev/null || {
    ((made_policy)) && $sudo rm -f /usr/sbin/policy-rc.d; die "apt-get install nginx failed"; }
  ((made_policy)) && $sudo rm -f /usr/sbin/policy-rc.d
  NGINX_BIN="$(command -v nginx || echo /usr/sbin/nginx)"
  "$NGINX_BIN" -V 2>&1 | grep -q -- '--with-http_auth_request_module' || die "installed nginx lacks auth_request"
  log "nginx installed: $("$NGINX_BIN" -v 2>&1)"
}

install_chromium() {
  if [[ -x /usr/bin/chromium ]]; then log "chromium present: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"; return; fi
  local sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends chromium >/dev/null || die "apt-get install chromium failed"
  log "chromium installed: $(/usr/bin/chromium --version 2>/dev/null)"
}

install_debs() {
  local want=(redis-server openssl wrk libnginx-mod-http-set-misc libnginx-mod-http-cache-purge gcc libc6-dev) missing=() p
  for p in "${want[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
  if ((${#missing[@]} == 0)); then log "debs present: ${want[*]}"; return; fi
  local sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  # Keep the packages' postinst from starting a system redis or nginx.
  local made_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null; $sudo chmod 755 /usr/sbin/policy-rc.d; made_policy=1
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null || {
    ((made_policy)) && $sudo rm -f /usr/sbin/policy-rc.d; die "apt-get install ${missing[*]} failed"; }
  ((made_policy)) && $sudo rm -f /usr/sbin/policy-rc.d
  log "debs installed: ${missing[*]}"
}

install_keycloak() {
  if [[ -x "$KEYCLOAK_HOME/bin/kc.sh" ]]; then
    log "keycloak present: $KEYCLOAK_HOME (JAVA_HOME $(pick_java_home))"
    kc_build "$KEYCLOAK_HOME" "$NGINX_AUTHZ_CACHE/keycloak/build.log"; return
  fi
  local tgz="$NGINX_AUTHZ_CACHE/dl/keycloak-quarkus-dist-$KEYCLOAK_VERSION.tar.gz"
  if [[ ! -s "$tgz" ]]; then
    command -v mvn >/dev/null || die "mvn not found (needed to fetch Keycloak from Maven Central)"
    mvn -q -B dependency:copy -Dartifact="org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:tar.gz" \
      -DoutputDirectory="$NGINX_AUTHZ_CACHE/dl" -Dmdep.overWriteReleases=false
  fi
  local tmp; tmp="$(mktemp -d "$NGINX_AUTHZ_CACHE/keycloak/.x.XXXXXX")"
  tar -xzf "$tgz" -C "$tmp"
  mv "$tmp/keycloak-$KEYCLOAK_VERSION" "$KEYCLOAK_HOME"; rmdir "$tmp"
  local jh; jh="$(pick_java_home)"
  JAVA_HOME="$jh" "$KEYCLOAK_HOME/bin/kc.sh" --version 2>/dev/null | grep -E '^(Keycloak|JVM)' | sed 's/^/    /' >&2 \
    || die "Keycloak does not run with JAVA_HOME=$jh"
  # Pre-build (Quarkus augmentation) for `kc.sh start --optimized` (scripts/stack/keycloak.sh, KC_MODE=optimized).
  kc_build "$KEYCLOAK_HOME" "$NGINX_AUTHZ_CACHE/keycloak/build.log"
}

install_minio() {
  if [[ -x "$MINIO_BIN" ]]; then log "minio present: $MINIO_BIN"; return; fi
  command -v go >/dev/null || die "go not found"
  local gobin; gobin="$(mktemp -d "$NGINX_AUTHZ_CACHE/bin/.gobin.XXXXXX")"
  # Plain go install; the module has no replace directives at this version. Build cache: ~/.cache/go-build, ~/go/pkg/mod.
  GOBIN="$gobin" GOFLAGS="${GOFLAGS:-} -trimpath" go install "github.com/minio/minio@$MINIO_MODULE_VERSION"
  mv "$gobin/minio" "$MINIO_BIN"; rmdir "$gobin"
  ln -sfn "$(basename "$MINIO_BIN")" "$NGINX_AUTHZ_CACHE/bin/minio"
  log "minio built: $MINIO_BIN"
}

install_oauth2proxy() {
  if [[ -x "$OAUTH2_PROXY_BIN" ]]; then log "oauth2-proxy present: $OAUTH2_PROXY_BIN"; return; fi
  command -v go >/dev/null || die "go not found"
  local gobin; gobin="$(mktemp -d "$NGINX_AUTHZ_CACHE/bin/.gobin.XXXXXX")"
  # ~3-6 min on 2 cores, once; the build cache (~/.cache/go-build, ~/go/pkg/mod) makes a rebuild quick.
  GOBIN="$gobin" GOFLAGS="${GOFLAGS:-} -trimpath" go install "github.com/oauth2-proxy/oauth2-proxy/v7@$OAUTH2_PROXY_VERSION"
  mv "$gobin/oauth2-proxy" "$OAUTH2_PROXY_BIN"; rmdir "$gobin"
  log "oauth2-proxy built: $OAUTH2_PROXY_BIN ($("$OAUTH2_PROXY_BIN" --version 2>&1 | head -n1))"
}

# go_install_bins TAGS PKG@VERSION...: one `go install` of the packages into a temporary GOBIN (printed), so that a
# binary reaches its versioned name in the cache only when the build succeeded. One build at a time: the machine is small.
go_install_bins() {
  command -v go >/dev/null || die "go not found"
  local tags="$1" gobin; shift
  gobin="$(mktemp -d "$NGINX_AUTHZ_CACHE/bin/.gobin.XXXXXX")"
  GOBIN="$gobin" GOFLAGS="${GOFLAGS:-} -trimpath" go install ${tags:+-tags "$tags"} "$@" >&2 || { rm -rf "$gobin"; return 1; }
  echo "$gobin"
}

install_prometheus() {
  if [[ -x "$PROMETHEUS_BIN" && -x "$PROMTOOL_BIN" ]]; then log "prometheus present: $PROMETHEUS_BIN"; return; fi
  local gobin
  gobin="$(go_install_bins remove_all_sd "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_MODULE_VERSION" \
    "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_MODULE_VERSION")" || die "prometheus build failed"
  mv "$gobin/prometheus" "$PROMETHEUS_BIN"; mv "$gobin/promtool" "$PROMTOOL_BIN"; rmdir "$gobin"
  log "prometheus built: $("$PROMETHEUS_BIN" --version 2>&1 | head -n1)"
}

install_helm() {
  if [[ -x "$HELM_BIN" ]]; then log "helm present: $HELM_BIN"; return; fi
  local gobin
  gobin="$(go_install_bins "" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION")" || die "helm build failed"
  mv "$gobin/helm" "$HELM_BIN"; rmdir "$gobin"
  log "helm built: $("$HELM_BIN" version --short 2>&1)"
}

install_k8sschemas() {
  local marker="$K8S_VALIDATE_VENV/.nginx-authz-installed"
  if [[ ! -x "$K8S_VALIDATE_VENV/bin/kubernetes-validate" || "$(cat "$marker" 2>/dev/null)" != "$K8S_VALIDATE_SPEC" ]]; then
    python3 -m venv "$K8S_VALIDATE_VENV"
    "$K8S_VALIDATE_VENV/bin/pip" install -q --disable-pip-version-check "$K8S_VALIDATE_SPEC"
    echo "$K8S_VALIDATE_SPEC" > "$marker"
    log "kubernetes-validate installed in $K8S_VALIDATE_VENV"
  else
    log "kubernetes-validate present: $K8S_VALIDATE_VENV"
  fi
  if [[ -s "$PROMETHEUS_OPERATOR_CRDS/monitoring.coreos.com_servicemonitors.yaml" ]]; then log "prometheus-operator CRDs present"; return; fi
  command -v go >/dev/null || die "go not found"
  local dir
  dir="$(go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  mkdir -p "$PROMETHEUS_OPERATOR_CRDS"
  cp "$dir"/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml "$PROMETHEUS_OPERATOR_CRDS/"
  chmod u+w "$PROMETHEUS_OPERATOR_CRDS"/*
  log "prometheus-operator CRDs copied to $PROMETHEUS_OPERATOR_CRDS"
}

install_mlflow() {
  local marker="$STACK_VENV/.nginx-authz-installed"
  if [[ -x "$STACK_VENV/bin/mlflow" && "$(cat "$marker" 2>/dev/null)" == "mlflow==$MLFLOW_VERSION $BOTO3_SPEC" ]]; then
    log "mlflow venv present: $STACK_VENV"; return
  fi
  python3 -m venv "$STACK_VENV"
  "$STACK_VENV/bin/pip" install -q --disable-pip-version-check "mlflow==$MLFLOW_VERSION" "$BOTO3_SPEC"
  "$STACK_VENV/bin/python" -c 'import mlflow, boto3; print("mlflow", mlflow.__version__, "boto3", boto3.__version__)' >&2
  echo "mlflow==$MLFLOW_VERSION $BOTO3_SPEC" > "$marker"
  log "mlflow installed in $STACK_VENV"
}

T0=$SECONDS
# Default: the stack's parts. The deployment tools (prometheus helm k8sschemas) are asked for by name (.ci/run does).
targets=("$@"); ((${#targets[@]})) || targets=(nginx debs chromium keycloak mlflow minio)
for t in "${targets[@]}"; do step "$t"; done
log "install finished in $((SECONDS - T0))s"
