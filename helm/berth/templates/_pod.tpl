{{/* The pod template shared by the StatefulSet and the Deployment. */}}
{{- define "berth.podTemplate" -}}
{{- $v := .Values -}}
metadata:
  labels:
    {{- include "berth.selectorLabels" . | nindent 4 }}
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # A config change rolls the pods; the config is read once at start-up.
    checksum/config: {{ include "berth.config" . | sha256sum }}
    # A credential change rolls them too: the process reads its secrets from the environment once.
    checksum/secret: {{ print (include (print .Template.BasePath "/secret.yaml") .) (include (print .Template.BasePath "/token-secret.yaml") .) | sha256sum }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "berth.serviceAccountName" . }}
  automountServiceAccountToken: false
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
  securityContext:
    {{- toYaml $v.podSecurityContext | nindent 4 }}
  {{- with $v.initContainers }}
  initContainers:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: berth
      image: {{ include "berth.image" . | quote }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      args:
        {{- toYaml $v.args | nindent 8 }}
      env:
        - name: REGISTRY_HTTP_SECRET
          valueFrom:
            secretKeyRef:
              name: {{ default (include "berth.secretName" .) $v.httpSecret.existingSecret }}
              key: {{ ternary $v.httpSecret.existingSecretKey "http-secret" (ne $v.httpSecret.existingSecret "") }}
        {{- if eq $v.storage.type "s3" }}
        {{- if or $v.storage.s3.existingSecret $v.storage.s3.accessKey }}
        - name: REGISTRY_STORAGE_S3_ACCESSKEY
          valueFrom:
            secretKeyRef:
              name: {{ default (include "berth.secretName" .) $v.storage.s3.existingSecret }}
              key: {{ ternary $v.storage.s3.accessKeyKey "s3-accesskey" (ne $v.storage.s3.existingSecret "") }}
        - name: REGISTRY_STORAGE_S3_SECRETKEY
          valueFrom:
            secretKeyRef:
              name: {{ default (include "berth.secretName" .) $v.storage.s3.existingSecret }}
              key: {{ ternary $v.storage.s3.secretKeyKey "s3-secretkey" (ne $v.storage.s3.existingSecret "") }}
        {{- end }}
        {{- end }}
        {{- if include "berth.notificationsFromEnv" . }}
        {{- range $i, $e := $v.notifications.endpoints }}
        {{- range $j, $h := $e.secretHeaders }}
        - name: BERTH_NOTIFICATIONS_{{ $i }}_HEADER_{{ $j }}
          valueFrom:
            secretKeyRef:
              name: {{ $h.existingSecret }}
              key: {{ $h.key }}
        {{- end }}
        {{- end }}
        - name: REGISTRY_NOTIFICATIONS_ENDPOINTS
          value: {{ include "berth.notificationEndpoints" . | quote }}
        {{- end }}
        {{- with include "berth.mirrorEnv" . }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- with $v.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        - name: http
          containerPort: {{ $v.containerPort }}
          protocol: TCP
        {{- if $v.metrics.enabled }}
        - name: metrics
          containerPort: {{ $v.metrics.port }}
          protocol: TCP
        {{- end }}
      startupProbe:
        {{- include "berth.probeAction" (dict "path" $v.probes.startup.path "tls" $v.tls) | nindent 8 }}
        periodSeconds: {{ $v.probes.startup.periodSeconds }}
        timeoutSeconds: {{ $v.probes.startup.timeoutSeconds }}
        failureThreshold: {{ $v.probes.startup.failureThreshold }}
      livenessProbe:
        {{- include "berth.probeAction" (dict "path" $v.probes.liveness.path "tls" $v.tls) | nindent 8 }}
        initialDelaySeconds: {{ $v.probes.liveness.initialDelaySeconds }}
        periodSeconds: {{ $v.probes.liveness.periodSeconds }}
        timeoutSeconds: {{ $v.probes.liveness.timeoutSeconds }}
        failureThreshold: {{ $v.probes.liveness.failureThreshold }}
      readinessProbe:
        {{- include "berth.probeAction" (dict "path" $v.probes.readiness.path "tls" $v.tls) | nindent 8 }}
        initialDelaySeconds: {{ $v.probes.readiness.initialDelaySeconds }}
        periodSeconds: {{ $v.probes.readiness.periodSeconds }}
        timeoutSeconds: {{ $v.probes.readiness.timeoutSeconds }}
        failureThreshold: {{ $v.probes.readiness.failureThreshold }}
      {{- if $v.preStopSleepSeconds }}
      lifecycle:
        # Endpoints are removed while the pod sleeps; SIGTERM (and Berth's drain) comes after.
        preStop:
          sleep:
            seconds: {{ $v.preStopSleepSeconds }}
      {{- end }}
      resources:
        {{- toYaml $v.resources | nindent 8 }}
      securityContext:
        {{- toYaml $v.securityContext | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: {{ include "berth.configPath" . }}
          subPath: config.yml
          readOnly: true
        - name: tmp
          mountPath: /tmp
        {{- if eq $v.storage.type "filesystem" }}
        - name: data
          mountPath: {{ $v.storage.filesystem.rootdirectory }}
        {{- end }}
        {{- if include "berth.mirroring" . }}
        - name: mirror-spool
          mountPath: {{ include "berth.spoolDir" . }}
        {{- end }}
        {{- if $v.auth.htpasswd.enabled }}
        # A directory mount, not subPath: Berth re-reads the file when the Secret changes.
        - name: htpasswd
          mountPath: {{ include "berth.htpasswdDir" . }}
          readOnly: true
        {{- end }}
        {{- if $v.auth.token.enabled }}
        - name: token
          mountPath: {{ include "berth.tokenDir" . }}
          readOnly: true
        {{- end }}
        {{- if $v.tls.enabled }}
        # A directory mount, not subPath: a renewed certificate reaches the pod and Berth serves it without a restart.
        - name: tls
          mountPath: {{ include "berth.tlsDir" . }}
          readOnly: true
        {{- end }}
        {{- with $v.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    {{- with $v.sidecars }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "berth.fullname" . }}
    - name: tmp
      emptyDir:
        sizeLimit: {{ $v.tmpSizeLimit }}
    {{- if include "berth.mirroring" . }}
    - name: mirror-spool
      emptyDir:
        sizeLimit: {{ $v.mirror.spoolSizeLimit }}
    {{- end }}
    {{- if eq $v.storage.type "filesystem" }}
    {{- if $v.persistence.existingClaim }}
    - name: data
      persistentVolumeClaim:
        claimName: {{ $v.persistence.existingClaim }}
    {{- else if include "berth.sharedClaim" . }}
    - name: data
      persistentVolumeClaim:
        claimName: {{ include "berth.fullname" . }}-data
    {{- else if not $v.persistence.enabled }}
    - name: data
      emptyDir: {}
    {{- end }}
    {{- end }}
    {{- if $v.auth.htpasswd.enabled }}
    - name: htpasswd
      secret:
        secretName: {{ required "auth.htpasswd.existingSecret is required when auth.htpasswd.enabled" $v.auth.htpasswd.existingSecret }}
        items:
          - key: {{ $v.auth.htpasswd.key }}
            path: {{ $v.auth.htpasswd.key }}
    {{- end }}
    {{- if $v.auth.token.enabled }}
    - name: token
      secret:
        secretName: {{ include "berth.tokenSecretName" . }}
        items:
          - key: token.key
            path: token.key
          - key: token.crt
            path: token.crt
    {{- end }}
    {{- if $v.tls.enabled }}
    - name: tls
      secret:
        secretName: {{ required "tls.existingSecret is required when tls.enabled" $v.tls.existingSecret }}
        items:
          - key: tls.crt
            path: tls.crt
          - key: tls.key
            path: tls.key
          {{- with $v.tls.clientCAKey }}
          - key: {{ . }}
            path: {{ . }}
          {{- end }}
    {{- end }}
    {{- with $v.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $v.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
A probe's action: HTTP(S) GET of `path` on the main port; a TCP check when clients need a certificate,
which the kubelet cannot present.
*/}}
{{- define "berth.probeAction" -}}
{{- if and .tls.enabled .tls.clientCAKey -}}
tcpSocket:
  port: http
{{- else -}}
httpGet:
  path: {{ .path }}
  port: http
  {{- if .tls.enabled }}
  scheme: HTTPS
  {{- end }}
{{- end }}
{{- end }}
