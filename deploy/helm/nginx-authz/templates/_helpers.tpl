{{/* Chart name, truncated to the 63 characters Kubernetes names allow. */}}
{{- define "nginx-authz.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: release name + chart name unless the release name holds it already. */}}
{{- define "nginx-authz.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "nginx-authz.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nginx-authz.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "nginx-authz.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "nginx-authz.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "nginx-authz.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "nginx-authz.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The service's configuration file: the user's `config` with what the chart owns laid over it
(listen address, secret file paths, the Redis session store). Secrets in `config` are refused.
*/}}
{{- define "nginx-authz.config" -}}
{{- $config := deepCopy (default dict .Values.config) }}
{{- $client := default dict (get $config "client") }}
{{- $session := default dict (get $config "session") }}
{{- $redis := default dict (get $config "redis") }}
{{- if hasKey $client "secret" }}{{ fail "config.client.secret: put the client secret in a Secret and set secrets.existingSecret / secrets.clientSecretKey" }}{{ end }}
{{- if hasKey $session "secret" }}{{ fail "config.session.secret: put the session secret in a Secret and set secrets.existingSecret / secrets.sessionSecretKey" }}{{ end }}
{{- if hasKey $redis "url" }}{{ fail "config.redis.url: put the Redis URL in a Secret and set redis.existingSecret / redis.urlKey" }}{{ end }}
{{- if hasKey $redis "password" }}{{ fail "config.redis.password: put the Redis password in a Secret and set redis.existingSecret / redis.passwordKey" }}{{ end }}
{{- if hasKey (default dict (get $config "basic")) "clientSecret" }}{{ fail "config.basic.clientSecret: put the Basic client's secret in a Secret and set secrets.existingSecret / secrets.basicClientSecretKey" }}{{ end }}
{{- range $i, $issuer := (default list (get $config "issuers")) }}
{{- if hasKey (default dict (get (default dict $issuer) "client")) "secret" }}{{ fail (printf "config.issuers[%d].client.secret: mount a Secret with extraVolumes / extraVolumeMounts and set client.secretFile" $i) }}{{ end }}
{{- end }}
{{- $_ := set $config "server" (mergeOverwrite (default dict (get $config "server")) (dict "host" "0.0.0.0" "port" (int .Values.containerPort))) }}
{{- if and .Values.secrets.existingSecret .Values.secrets.clientSecretKey }}
{{- $_ := set $client "secretFile" "/etc/nginx-authz/secrets/client-secret" }}
{{- $_ := set $config "client" $client }}
{{- end }}
{{- if and .Values.secrets.existingSecret .Values.secrets.sessionSecretKey }}
{{- $_ := set $session "secretFile" "/etc/nginx-authz/secrets/session-secret" }}
{{- end }}
{{- if .Values.redis.enabled }}
{{- $_ := set $session "store" "redis" }}
{{- with .Values.redis.tls }}
{{- if .existingSecret }}
{{- $_ := set $redis "tlsCaFile" "/etc/nginx-authz/redis-tls/ca.crt" }}
{{- if and .certKey .keyKey }}
{{- $_ := set $redis "tlsCertFile" "/etc/nginx-authz/redis-tls/tls.crt" }}
{{- $_ := set $redis "tlsKeyFile" "/etc/nginx-authz/redis-tls/tls.key" }}
{{- end }}
{{- $_ := set $config "redis" $redis }}
{{- end }}
{{- end }}
{{- end }}
{{- if $session }}{{ $_ := set $config "session" $session }}{{ end }}
{{- toYaml $config }}
{{- end }}

{{/* Checks that fail the render instead of deploying something that cannot work (or that would put a secret in a value). */}}
{{- define "nginx-authz.validate" -}}
{{- range .Values.extraEnv }}
{{- if and (has .name (list "AUTHZ_CLIENT_SECRET" "AUTHZ_SESSION_SECRET" "AUTHZ_BASIC_CLIENT_SECRET" "AUTHZ_REDIS_URL" "AUTHZ_REDIS_PASSWORD")) (hasKey . "value") }}
{{- fail (printf "extraEnv %s: a secret is never a value; use valueFrom.secretKeyRef (or the chart's secrets / redis settings)" .name) }}
{{- end }}
{{- end }}
{{- if and .Values.secrets.basicClientSecretKey (not .Values.secrets.existingSecret) }}
{{- fail "secrets.basicClientSecretKey needs secrets.existingSecret (the Secret that holds it)" }}
{{- end }}
{{- if and .Values.redis.tls.existingSecret (not .Values.redis.tls.caKey) }}
{{- fail "redis.tls.existingSecret needs redis.tls.caKey (the key of the CA certificate in that Secret)" }}
{{- end }}
{{- if ne (empty .Values.redis.tls.certKey) (empty .Values.redis.tls.keyKey) }}
{{- fail "redis.tls.certKey and redis.tls.keyKey go together: a client certificate needs its key" }}
{{- end }}
{{- if and .Values.redis.enabled (not .Values.redis.existingSecret) }}
{{- fail "redis.enabled needs redis.existingSecret (a Secret holding the Redis URL under redis.urlKey)" }}
{{- end }}
{{- if and .Values.redis.enabled (not (and .Values.secrets.existingSecret .Values.secrets.sessionSecretKey)) }}
{{- fail "redis.enabled needs secrets.sessionSecretKey: sessions in Redis are encrypted with the session secret every replica shares" }}
{{- end }}
{{- $login := dig "login" "enabled" false (default dict .Values.config) }}
{{- if and (gt (int .Values.replicaCount) 1) $login }}
{{- if not .Values.redis.enabled }}
{{- fail "replicaCount > 1 with config.login.enabled needs redis.enabled: each replica must see every browser session" }}
{{- end }}
{{- if not (and .Values.secrets.existingSecret .Values.secrets.sessionSecretKey) }}
{{- fail "replicaCount > 1 with config.login.enabled needs secrets.sessionSecretKey: every replica must open the same session cookies" }}
{{- end }}
{{- end }}
{{- end }}
