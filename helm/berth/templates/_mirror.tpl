{{/*
The pull-through mirror (values `proxy`, `mirrors`, `mirror`): Berth's proxy, mirrors and
mirror.spooldirectory keys, with upstream credentials taken from existing Secrets only.
*/}}

{{/* "true" when Berth mirrors an upstream: it then needs a spool. */}}
{{- define "berth.mirroring" -}}
{{- if or .Values.proxy.remoteurl .Values.mirrors -}}
true
{{- end }}
{{- end }}

{{/* Where the spool emptyDir is mounted: the root filesystem is read-only. */}}
{{- define "berth.spoolDir" -}}/var/spool/berth-mirror{{- end }}

{{/*
Whether a mirror takes credentials from a Secret: the whole list then goes to Berth as
REGISTRY_MIRRORS (an environment value replaces the file's list), whose username and password are
$(BERTH_MIRRORS_<i>_USERNAME) and $(BERTH_MIRRORS_<i>_PASSWORD) references the kubelet fills.
*/}}
{{- define "berth.mirrorsFromEnv" -}}
{{- range .Values.mirrors }}{{ if .existingSecret }}true{{ end }}{{ end }}
{{- end }}

{{/* The mirrors as Berth reads them, as JSON: the chart's Secret keys become variable references. */}}
{{- define "berth.mirrorList" -}}
{{- $out := list }}
{{- range $i, $m := .Values.mirrors }}
{{- $entry := omit $m "existingSecret" "usernameKey" "passwordKey" }}
{{- if $m.existingSecret }}
{{- $_ := set $entry "username" (printf "$(BERTH_MIRRORS_%d_USERNAME)" $i) }}
{{- $_ := set $entry "password" (printf "$(BERTH_MIRRORS_%d_PASSWORD)" $i) }}
{{- end }}
{{- $out = append $out $entry }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/* Sets proxy, mirrors (unless they go through the environment) and mirror on .config. */}}
{{- define "berth.mirrorConfig" -}}
{{- $v := .root.Values }}
{{- if $v.proxy.remoteurl }}
{{- $proxy := dict "remoteurl" $v.proxy.remoteurl "ttl" $v.proxy.ttl }}
{{- with $v.proxy.maxsize }}{{ $_ := set $proxy "maxsize" . }}{{ end }}
{{- $_ := set .config "proxy" $proxy }}
{{- end }}
{{- if and $v.mirrors (not (include "berth.mirrorsFromEnv" .root)) }}
{{- $list := list }}
{{- range $v.mirrors }}{{ $list = append $list (omit . "usernameKey" "passwordKey") }}{{ end }}
{{- $_ := set .config "mirrors" $list }}
{{- end }}
{{- if include "berth.mirroring" .root }}
{{- $_ := set .config "mirror" (dict "spooldirectory" (include "berth.spoolDir" .root)) }}
{{- end }}
{{- end }}

{{/* The Berth container's env entries for upstream credentials (and the mirrors that use them). */}}
{{- define "berth.mirrorEnv" -}}
{{- $v := .Values }}
{{- with $v.proxy.existingSecret }}
{{- if $v.proxy.remoteurl }}
- name: REGISTRY_PROXY_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $v.proxy.usernameKey }}
- name: REGISTRY_PROXY_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $v.proxy.passwordKey }}
{{- end }}
{{- end }}
{{- if include "berth.mirrorsFromEnv" . }}
{{- range $i, $m := $v.mirrors }}
{{- with $m.existingSecret }}
- name: BERTH_MIRRORS_{{ $i }}_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $m.usernameKey | default "username" }}
- name: BERTH_MIRRORS_{{ $i }}_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $m.passwordKey | default "password" }}
{{- end }}
{{- end }}
- name: REGISTRY_MIRRORS
  value: {{ include "berth.mirrorList" . | quote }}
{{- end }}
{{- end }}
