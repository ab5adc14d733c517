#!/usr/bin/env bash
# Prove the mlflow realm works: password grants, token claims, UMA decisions (policy matrix), PAT, permission ticket.
# Needs a running Keycloak (scripts/stack/keycloak.sh start). Exit status non-zero on the first mismatch.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
load_ports
[[ -n "${KC_PORT:-}" ]] || die "KC_PORT unknown; start Keycloak first"
ISS="http://127.0.0.1:$KC_PORT/realms/mlflow"
TOKEN_EP="$ISS/protocol/openid-connect/token"
fail=0
ok()  { printf '  ok   %s\n' "$*"; }
bad() { printf '  FAIL %s\n' "$*"; fail=1; }

claims() { # jwt -> JSON payload
  python3 -c 'import base64,json,sys; p=sys.argv[1].split(".")[1]; p+="="*(-len(p)%4); print(json.dumps(json.loads(base64.urlsafe_b64decode(p))))' "$1"
}

declare -A TOK
echo "== password grant (client mlflow-cli)"
for u in alice bob carol dave; do
  t="$(kc_token "$u" "$u-dev-password")" || { bad "password grant for $u"; continue; }
  TOK[$u]="$t"
  c="$(claims "$t")"
  python3 - "$u" "$c" <<'PY' && ok "$u: token ok" || bad "$u: claims"
import json, sys
u, c = sys.argv[1], json.loads(sys.argv[2])
aud = c.get("aud"); aud = aud if isinstance(aud, list) else [aud]
assert "nginx-authz" in aud, f"aud={aud}"
exp = {"alice": ["mlflow-admins"], "bob": ["mlflow-editors"], "carol": ["mlflow-viewers"], "dave": []}[u]
# Keycloak omits the groups claim when the user is in no group (dave).
assert sorted(c.get("groups", [])) == exp, f"groups={c.get('groups')}"
if exp: assert "groups" in c, "no groups claim"
assert c.get("preferred_username") == u and c.get("email") == f"{u}@example.test"
print(f"       aud={aud} groups={c.get('groups', '(absent)')} azp={c.get('azp')} exp-iat={c['exp']-c['iat']}s")
PY
done

decide() { # user resource#scope -> prints "HTTP body"
  curl -s -o /tmp/.kc-decide.$$ -w '%{http_code}' -X POST "$TOKEN_EP" \
    -H "Authorization: Bearer ${TOK[$1]}" \
    --data-urlencode grant_type=urn:ietf:params:oauth:grant-type:uma-ticket \
    --data-urlencode audience=nginx-authz \
    --data-urlencode "permission=$2" \
    --data-urlencode response_mode=decision \
    --data-urlencode submit_request=false
  printf ' %s' "$(cat /tmp/.kc-decide.$$)"; rm -f /tmp/.kc-decide.$$
}

echo "== UMA decisions (response_mode=decision, audience=nginx-authz)"
expect() { # user perm expected-code
  local r; r="$(decide "$1" "$2")"
  if [[ "${r%% *}" == "$3" ]]; then ok "$1 $2 -> $r"; else bad "$1 $2 -> $r (want $3)"; fi
}
for res in experiments runs registered-models logged-models traces datasets scorers prompt-optimization issues \
           label-schemas review-queues artifacts gateway minio bucket:mlflow admin; do
  for scope in read write delete; do
    for u in alice bob carol dave; do
      want=403
      case "$u" in
        alice) want=200 ;;
        bob)   [[ "$res" != admin && "$scope" != delete ]] && want=200 ;;
        carol) [[ "$res" != admin && "$scope" == read ]] && want=200 ;;
      esac
      if [[ "${VERBOSE:-0}" == 1 || "$res" == runs || "$res" == admin || "$res" == bucket:mlflow ]]; then expect "$u" "$res#$scope" "$want"
      else r="$(decide "$u" "$res#$scope")"; [[ "${r%% *}" == "$want" ]] || bad "$u $res#$scope -> $r (want $want)"; fi
    done
  done
done
ok "full matrix checked (16 resources x 3 scopes x 4 users; VERBOSE=1 prints every line)"
echo "== error shapes"
r="$(decide alice 'no-such-resource#read')"; [[ "${r%% *}" == 400 ]] && ok "unknown resource -> $r" || bad "unknown resource -> $r"
r="$(decide alice 'runs#no-such-scope')"; [[ "${r%% *}" == 400 ]] && ok "unknown scope -> $r" || bad "unknown scope -> $r"
# Keycloak 26.7 answers a bad/expired bearer with 400 invalid_grant (not 401).
TOK[bogus]="not-a-token"; r="$(decide bogus 'runs#read')"; [[ "${r%% *}" == 400 && "$r" == *invalid_grant* ]] && ok "bad bearer -> $r" || bad "bad bearer -> $r"

echo "== resource server: client_credentials (PAT) + permission ticket"
PAT="$(curl -sf "$TOKEN_EP" --data-urlencode grant_type=client_credentials --data-urlencode client_id=nginx-authz \
        --data-urlencode "client_secret=$NGINX_AUTHZ_CLIENT_SECRET" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')" \
  && ok "PAT issued" || bad "client_credentials for nginx-authz"
python3 - "$(claims "$PAT")" <<'PY' && ok "PAT has nginx-authz/uma_protection" || bad "PAT lacks uma_protection"
import json, sys
c = json.loads(sys.argv[1]); assert "uma_protection" in c["resource_access"]["nginx-authz"]["roles"], c.get("resource_access")
PY
RID="$(curl -sf -H "Authorization: Bearer $PAT" "$ISS/authz/protection/resource_set?name=runs&exactName=true" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0])')" \
  && ok "resource_set lookup runs -> $RID" || bad "resource_set lookup"
code="$(curl -s -o /tmp/.kc-ticket.$$ -w '%{http_code}' -X POST "$ISS/authz/protection/permission" -H "Authorization: Bearer $PAT" \
        -H 'Content-Type: application/json' -d "[{\"resource_id\":\"$RID\",\"resource_scopes\":[\"delete\"]}]")"
if [[ "$code" == 201 ]] && grep -q '"ticket"' /tmp/.kc-ticket.$$; then ok "permission ticket -> $code $(cut -c1-60 /tmp/.kc-ticket.$$)..."; else bad "permission ticket -> $code $(cat /tmp/.kc-ticket.$$)"; fi
rm -f /tmp/.kc-ticket.$$
code="$(curl -s -o /dev/null -w '%{http_code}' "$ISS/.well-known/uma2-configuration")"; [[ "$code" == 200 ]] && ok "uma2-configuration -> 200" || bad "uma2-configuration -> $code"
exit $fail
