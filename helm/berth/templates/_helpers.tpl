{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "berth.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name of every object. */}}
{{- define "berth.fullname" -}}
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

{{- define "berth.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "berth.selectorLabels" -}}
app.kubernetes.io/name: {{ include "berth.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* What tells the metrics Service apart from the registry's: the ServiceMonitor selects it by these. */}}
{{- define "berth.metricsServiceLabels" -}}
{{ include "berth.selectorLabels" . }}
app.kubernetes.io/component: metrics
{{- end }}

{{- define "berth.labels" -}}
helm.sh/chart: {{ include "berth.chart" . }}
{{ include "berth.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: berth
{{- end }}

{{- define "berth.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "berth.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository@digest when a digest is given (it pins the content), else repository:tag. */}}
{{- define "berth.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (toString (.Values.image.tag | default .Chart.AppVersion)) }}
{{- end }}
{{- end }}

{{/*
Labels of the helm test pod, which the NetworkPolicy lets in besides `networkPolicy.from`. Not the
selector labels: the workload's ReplicaSet would adopt a bare pod that carries them.
*/}}
{{- define "berth.testSelectorLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: helm-test
{{- end }}

{{/*
"true" when the helm test pod logs in with a password: with auth.htpasswd, unless its client
certificate names its user (tls.clientIdentity with tests.clientCertSecret) and no credentials are given.
*/}}
{{- define "berth.testLogsIn" -}}
{{- $c := .Values.tests.credentials }}
{{- $certificateUser := and .Values.tls.clientIdentity .Values.tests.clientCertSecret }}
{{- if and .Values.auth.htpasswd.enabled (or (not $certificateUser) $c.existingSecret $c.username $c.password) -}}
true
{{- end }}
{{- end }}

{{/* The Secret and keys the helm test pod logs in with (only with auth.htpasswd). */}}
{{- define "berth.testCredentialsInline" -}}
{{- if and .Values.tests.enabled (include "berth.testLogsIn" .) (not .Values.tests.credentials.existingSecret) -}}
true
{{- end }}
{{- end }}

{{/*
"true" when filesystem storage sits on one ReadWriteOnce volume the chart creates: then the
workload is a StatefulSet with a volumeClaimTemplate. Every other layout is a Deployment.
*/}}
{{- define "berth.statefulSet" -}}
{{- if and (eq .Values.storage.type "filesystem") .Values.persistence.enabled (not .Values.persistence.existingClaim) (eq .Values.persistence.accessMode "ReadWriteOnce") -}}
true
{{- end }}
{{- end }}

{{/* A PVC the chart creates and every replica mounts: filesystem on a shared (RWX) volume. */}}
{{- define "berth.sharedClaim" -}}
{{- if and (eq .Values.storage.type "filesystem") .Values.persistence.enabled (not .Values.persistence.existingClaim) (ne .Values.persistence.accessMode "ReadWriteOnce") -}}
true
{{- end }}
{{- end }}

{{- define "berth.secretName" -}}
{{- printf "%s-secret" (include "berth.fullname" .) }}
{{- end }}

{{- define "berth.tokenSecretName" -}}
{{- default (printf "%s-token" (include "berth.fullname" .)) .Values.auth.token.existingSecret }}
{{- end }}

{{/* Where Berth reads the files the chart mounts. */}}
{{- define "berth.configPath" -}}/etc/berth/config.yml{{- end }}
{{- define "berth.htpasswdDir" -}}/etc/berth/htpasswd{{- end }}
{{- define "berth.tokenDir" -}}/etc/berth/token{{- end }}
{{- define "berth.tlsDir" -}}/etc/berth/tls{{- end }}
{{- define "berth.testClientDir" -}}/etc/berth/test-client{{- end }}

{{/*
Berth's configuration (Distribution-shaped YAML): what the values imply, with .Values.config
merged over it. Secrets are never written here: they reach the process as REGISTRY_* variables
from Secrets, or as mounted files.
*/}}
{{- define "berth.config" -}}
{{- $v := .Values }}
{{- $storage := dict "delete" (deepCopy $v.storage.delete) "redirect" (deepCopy $v.storage.redirect) }}
{{- if eq $v.storage.type "s3" }}
{{- $s3 := dict "bucket" (required "storage.s3.bucket is required with s3 storage" $v.storage.s3.bucket) "region" $v.storage.s3.region "forcepathstyle" $v.storage.s3.forcepathstyle "secure" $v.storage.s3.secure "encrypt" $v.storage.s3.encrypt "storageclass" $v.storage.s3.storageclass }}
{{- range $k := list "regionendpoint" "publicendpoint" "rootdirectory" "keyid" }}
{{- with index $v.storage.s3 $k }}{{ $_ := set $s3 $k . }}{{ end }}
{{- end }}
{{- $_ := set $storage "s3" $s3 }}
{{- else }}
{{- $_ := set $storage "filesystem" (dict "rootdirectory" $v.storage.filesystem.rootdirectory) }}
{{- end }}
{{- $http := dict "addr" (printf ":%v" $v.containerPort) }}
{{- if $v.metrics.enabled }}
{{- $_ := set $http "debug" (dict "addr" (printf ":%v" $v.metrics.port)) }}
{{- end }}
{{- if $v.tls.enabled }}
{{- $tls := dict "certificate" (printf "%s/tls.crt" (include "berth.tlsDir" .)) "key" (printf "%s/tls.key" (include "berth.tlsDir" .)) }}
{{- with $v.tls.clientCAKey }}{{ $_ := set $tls "clientcas" (list (printf "%s/%s" (include "berth.tlsDir" $) .)) }}{{ end }}
{{- with $v.tls.clientIdentity }}
{{- if not $v.tls.clientCAKey }}{{ fail "tls.clientIdentity needs tls.clientCAKey: only a certificate verified against the client CA names a user" }}{{ end }}
{{- if not $v.auth.htpasswd.enabled }}{{ fail "tls.clientIdentity needs auth.htpasswd (and auth.accesscontrol): without it nothing uses the user a certificate names" }}{{ end }}
{{- $_ := set $tls "clientidentity" . }}
{{- end }}
{{- $_ := set $http "tls" $tls }}
{{- if not $v.tls.http2 }}{{ $_ := set $http "http2" (dict "disabled" true) }}{{ end }}
{{- else }}
{{- if $v.tls.clientIdentity }}{{ fail "tls.clientIdentity needs tls.enabled and tls.clientCAKey: the user comes from a client certificate" }}{{ end }}
{{- if not $v.tls.http2 }}{{ fail "tls.http2 needs tls.enabled: plain HTTP is HTTP/1.1 only" }}{{ end }}
{{- end }}
{{- $config := dict "storage" $storage "http" $http }}
{{- $auth := dict }}
{{- if $v.auth.htpasswd.enabled }}
{{- $_ := set $auth "htpasswd" (dict "realm" $v.auth.htpasswd.realm "path" (printf "%s/%s" (include "berth.htpasswdDir" .) $v.auth.htpasswd.key)) }}
{{- end }}
{{- if $v.auth.token.enabled }}
{{- $server := dict "key" (printf "%s/token.key" (include "berth.tokenDir" .)) "certificate" (printf "%s/token.crt" (include "berth.tokenDir" .)) "expiration" $v.auth.token.expiration }}
{{- $token := dict "service" $v.auth.token.service "issuer" $v.auth.token.issuer "server" $server }}
{{- with $v.auth.token.realm }}{{ $_ := set $token "realm" . }}{{ end }}
{{- $_ := set $auth "token" $token }}
{{- end }}
{{- with $v.auth.accesscontrol }}{{ $_ := set $auth "accesscontrol" . }}{{ end }}
{{- if $auth }}{{ $_ := set $config "auth" $auth }}{{ end }}
{{- with $v.notifications.endpoints }}
{{- $n := dict "events" $v.notifications.events "backlog" $v.notifications.backlog "takeover" $v.notifications.takeover }}
{{- if not (include "berth.notificationsFromEnv" $) }}{{ $_ := set $n "endpoints" . }}{{ end }}
{{- $_ := set $config "notifications" $n }}
{{- end }}
{{- $_ := include "berth.mirrorConfig" (dict "config" $config "root" $) }}
{{- toYaml (mergeOverwrite $config (deepCopy $v.config)) }}
{{- end }}

{{/* storageClassName of a claim: "" leaves the cluster default, "-" asks for none. */}}
{{- define "berth.storageClass" -}}
{{- if eq .Values.persistence.storageClass "-" }}
storageClassName: ""
{{- else if .Values.persistence.storageClass }}
storageClassName: {{ .Values.persistence.storageClass | quote }}
{{- end }}
{{- end }}

{{/*
Whether an endpoint takes a header from a Secret: the whole list then goes to Berth as
REGISTRY_NOTIFICATIONS_ENDPOINTS (an environment value replaces the file's list), whose header
values are $(BERTH_NOTIFICATIONS_<i>_HEADER_<j>) references the kubelet fills from the Secrets.
*/}}
{{- define "berth.notificationsFromEnv" -}}
{{- range .Values.notifications.endpoints }}{{ if .secretHeaders }}true{{ end }}{{ end }}
{{- end }}

{{/* The endpoints as JSON, each secret header a reference to the variable that holds it. */}}
{{- define "berth.notificationEndpoints" -}}
{{- $out := list }}
{{- range $i, $e := .Values.notifications.endpoints }}
{{- $ep := omit $e "secretHeaders" }}
{{- $headers := deepCopy (default (dict) $e.headers) }}
{{- range $j, $h := $e.secretHeaders }}
{{- $_ := set $headers $h.name (append (default (list) (get $headers $h.name)) (printf "$(BERTH_NOTIFICATIONS_%d_HEADER_%d)" $i $j)) }}
{{- end }}
{{- if $headers }}{{ $_ := set $ep "headers" $headers }}{{ end }}
{{- $out = append $out $ep }}
{{- end }}
{{- toJson $out }}
{{- end }}
