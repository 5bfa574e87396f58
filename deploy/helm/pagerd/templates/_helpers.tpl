{{- define "pagerd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pagerd.fullname" -}}
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

{{- define "pagerd.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "pagerd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "pagerd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pagerd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end }}

{{- define "pagerd.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ include "pagerd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end }}

{{- define "pagerd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "pagerd.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the Redis URL pagerd reads (server.redis.url_file). */}}
{{- define "pagerd.redisURLSecret" -}}
{{- if .Values.redis.existingSecret }}{{ .Values.redis.existingSecret }}{{ else }}{{ include "pagerd.fullname" . }}-redis-url{{ end }}
{{- end }}

{{- define "pagerd.redisURLKey" -}}
{{- if .Values.redis.existingSecret }}{{ .Values.redis.existingSecretKey }}{{ else }}url{{ end }}
{{- end }}

{{/* The secret files' Secret, or "" when there is none. */}}
{{- define "pagerd.secretsName" -}}
{{- if .Values.existingSecret }}{{ .Values.existingSecret }}{{ else if .Values.secrets }}{{ include "pagerd.fullname" . }}-secrets{{ end }}
{{- end }}

{{/* The in-chart Redis password: the value, else the one already in the
cluster, else a new random one (kept across upgrades through lookup). It is
worked out once per render and remembered, as two Secrets carry it. */}}
{{- define "pagerd.redisPassword" -}}
{{- if not .Values.redis.internal.password }}
{{- $s := lookup "v1" "Secret" .Release.Namespace (printf "%s-redis" (include "pagerd.fullname" .)) }}
{{- if and $s $s.data (index $s.data "password") }}
{{- $_ := set .Values.redis.internal "password" (index $s.data "password" | b64dec) }}
{{- else }}
{{- $_ := set .Values.redis.internal "password" (randAlphaNum 32) }}
{{- end }}
{{- end }}
{{- .Values.redis.internal.password }}
{{- end }}

{{/* The in-chart Redis's URL, its password escaped for user info: urlquery
leaves letters, digits and -_.~ and writes a space as "+", which user info
reads as a plus, so the space is written %20 instead (a "+" of the password
is already %2B). */}}
{{- define "pagerd.redisInternalURL" -}}
{{- printf "redis://:%s@%s-redis:6379/0" (include "pagerd.redisPassword" . | urlquery | replace "+" "%20") (include "pagerd.fullname" .) }}
{{- end }}

{{/* The in-chart Redis's password as one redis.conf argument: in double
quotes, with backslash and double quote escaped (the schema refuses control
characters), so spaces, #, quotes and the like reach Redis as they are. */}}
{{- define "pagerd.redisConfPassword" -}}
{{- printf "\"%s\"" (include "pagerd.redisPassword" . | replace "\\" "\\\\" | replace "\"" "\\\"") }}
{{- end }}

{{/* Refuses value combinations that cannot work, with what to set. */}}
{{- define "pagerd.validate" -}}
{{- if not .Values.config }}
{{- fail "config is required: the pagerd config (users, schedules, escalation_policies, services; docs/CONFIG.md)" }}
{{- end }}
{{- if eq .Values.store "redis" }}
{{- $n := 0 }}
{{- if .Values.redis.url }}{{ $n = add1 $n }}{{ end }}
{{- if .Values.redis.existingSecret }}{{ $n = add1 $n }}{{ end }}
{{- if .Values.redis.internal.enabled }}{{ $n = add1 $n }}{{ end }}
{{- if ne $n 1 }}
{{- fail "store: redis needs exactly one of redis.url, redis.existingSecret or redis.internal.enabled=true (or use store: embedded for one replica without Redis)" }}
{{- end }}
{{- else }}
{{- if .Values.redis.internal.enabled }}
{{- fail "redis.internal.enabled needs store: redis" }}
{{- end }}
{{- end }}
{{- if and .Values.redis.internal.existingSecret .Values.redis.internal.password }}
{{- fail "set redis.internal.password or redis.internal.existingSecret, not both" }}
{{- end }}
{{- if and .Values.secrets .Values.existingSecret }}
{{- fail "set secrets or existingSecret, not both" }}
{{- end }}
{{- $lease := include "pagerd.seconds" ((.Values.config.server | default dict).lease | default "") | float64 }}
{{- if eq $lease 0.0 }}{{ $lease = 30.0 }}{{ end }}
{{- $stop := addf (include "pagerd.seconds" .Values.shutdownDelay | float64) $lease 20.0 }}
{{- if lt (float64 .Values.terminationGracePeriodSeconds) $stop }}
{{- fail (printf "terminationGracePeriodSeconds %v is shorter than a stop can take: shutdownDelay + config.server.lease (default 30s) + the 20s send timeout = %vs; raise it, or a pod killed mid-send may page twice or late" .Values.terminationGracePeriodSeconds $stop) }}
{{- end }}
{{- if hasKey (.Values.config.server | default dict) "listen" }}
{{- fail "config.server.listen is set by the chart (service.port); leave it out" }}
{{- end }}
{{- if hasKey (.Values.config.server | default dict) "data_dir" }}
{{- fail "config.server.data_dir is set by the chart (store: embedded); leave it out" }}
{{- end }}
{{- if hasKey (.Values.config.server | default dict) "redis" }}
{{- fail "config.server.redis is set by the chart from redis.*; leave it out" }}
{{- end }}
{{- end }}

{{/* The config as pagerd reads it: the user's, with the server settings
the chart owns. */}}
{{- define "pagerd.config" -}}
{{- $server := dict "listen" (printf ":%d" (int .Values.service.port)) }}
{{- if eq .Values.store "redis" }}
{{- $redis := dict "url_file" "/etc/pagerd/redis/url" }}
{{- if .Values.redis.prefix }}{{ $_ := set $redis "prefix" .Values.redis.prefix }}{{ end }}
{{- $_ := set $server "redis" $redis }}
{{- end }}
{{- $cfg := deepCopy .Values.config }}
{{- $_ := set $cfg "server" (merge $server ($cfg.server | default dict)) }}
{{- toYaml $cfg }}
{{- end }}

{{/* The seconds a duration holds, as a number: Go's form (shutdownDelay)
or Prometheus's (the config's durations: 90s, 1m30s, 2h). */}}
{{- define "pagerd.seconds" -}}
{{- $units := dict "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0 "d" 86400.0 "w" 604800.0 "y" 31536000.0 }}
{{- $total := 0.0 }}
{{- range regexFindAll "[0-9]+(\\.[0-9]+)?(ms|s|m|h|d|w|y)" (toString .) -1 }}
{{- $n := regexFind "^[0-9]+(\\.[0-9]+)?" . }}
{{- $total = addf $total (mulf (float64 $n) (index $units (trimPrefix $n .))) }}
{{- end }}
{{- $total }}
{{- end }}
