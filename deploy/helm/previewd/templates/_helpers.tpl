{{/* The chart's name. */}}
{{- define "previewd.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The objects' name: the release's, with the chart's name unless it holds it. */}}
{{- define "previewd.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "previewd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "previewd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "previewd.labels" -}}
{{ include "previewd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "previewd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- .Values.serviceAccount.name | default (include "previewd.fullname" .) }}
{{- else }}
{{- .Values.serviceAccount.name | default "default" }}
{{- end }}
{{- end }}

{{/*
Run slots: max_concurrent_runs plus max_concurrent_checks (which defaults
to max_concurrent_runs), each able to hold Terraform and its providers.
*/}}
{{- define "previewd.runSlots" -}}
{{- $runs := int (.Values.config.max_concurrent_runs | default 4) }}
{{- $checks := int (.Values.config.max_concurrent_checks | default $runs) }}
{{- add $runs $checks }}
{{- end }}

{{/* The memory limit: resources.limits.memory, else base + slots × per run. */}}
{{- define "previewd.resources" -}}
{{- $res := deepCopy (.Values.resources | default dict) }}
{{- $limits := $res.limits | default dict }}
{{- if not $limits.memory }}
{{- $mib := add (int .Values.memory.baseMiB) (mul (int (include "previewd.runSlots" .)) (int .Values.memory.perRunMiB)) }}
{{- $_ := set $limits "memory" (printf "%dMi" $mib) }}
{{- end }}
{{- $_ := set $res "limits" $limits }}
{{- toYaml $res }}
{{- end }}

{{/*
Refuses what cannot work: several replicas without the postgres store, and
a grace period not longer than shutdown_timeout (when written in s, m or h).
*/}}
{{- define "previewd.validate" -}}
{{- $store := (.Values.config.store | default dict).driver | default "bbolt" }}
{{- if and (gt (int .Values.replicas) 1) (ne $store "postgres") }}
{{- fail (printf "replicas: %d replicas need config.store.driver postgres (got %s)" (int .Values.replicas) $store) }}
{{- end }}
{{- $timeout := toString (.Values.config.shutdown_timeout | default "90s") }}
{{- $seconds := 0 }}
{{- if regexMatch "^[0-9]+s$" $timeout }}{{ $seconds = int (trimSuffix "s" $timeout) }}{{ end }}
{{- if regexMatch "^[0-9]+m$" $timeout }}{{ $seconds = mul 60 (int (trimSuffix "m" $timeout)) }}{{ end }}
{{- if regexMatch "^[0-9]+h$" $timeout }}{{ $seconds = mul 3600 (int (trimSuffix "h" $timeout)) }}{{ end }}
{{- if le (int .Values.terminationGracePeriodSeconds) $seconds }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be longer than config.shutdown_timeout (%s)" (int .Values.terminationGracePeriodSeconds) $timeout) }}
{{- end }}
{{- $c := .Values.config }}
{{- $secrets := dict "webhook_secret" (hasKey $c "webhook_secret") "admin_token" (hasKey $c "admin_token") "metrics_token" (hasKey $c "metrics_token") }}
{{- $_ := set $secrets "store.url" (hasKey ($c.store | default dict) "url") }}
{{- $_ = set $secrets "github.token" (hasKey ($c.github | default dict) "token") }}
{{- $_ = set $secrets "state.config.conn_str" (hasKey (($c.state | default dict).config | default dict) "conn_str") }}
{{- range $key, $set := $secrets }}
{{- if $set }}
{{- fail (printf "config.%s: secrets come from the Secret %s (existingSecret), never the ConfigMap" $key $.Values.existingSecret) }}
{{- end }}
{{- end }}
{{- end }}
