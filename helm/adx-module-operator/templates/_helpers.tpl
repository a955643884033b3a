{{/* The chart's names and labels, and the settings both roles share. */}}

{{- define "adx.name" -}}
adx-module-operator
{{- end -}}

{{- define "adx.fullname" -}}
{{- if contains "adx-module-operator" .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-adx-module-operator" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "adx.labels" -}}
app.kubernetes.io/name: {{ include "adx.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: adx
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "adx.selector" -}}
app.kubernetes.io/name: {{ include "adx.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "adx.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "adx.databaseSecret" -}}
{{- .Values.database.existingSecret | default (printf "%s-database" (include "adx.fullname" .)) -}}
{{- end -}}

{{/* ADX_* settings from the values (core/settings.py reads them at start-up and names a bad one). */}}
{{- define "adx.env" -}}
- name: ADX_TEMPORAL_ADDRESS
  value: {{ .Values.temporal.address | quote }}
- name: ADX_TEMPORAL_NAMESPACE
  value: {{ .Values.temporal.namespace | quote }}
- name: ADX_TEMPORAL_TASK_QUEUE
  value: {{ .Values.temporal.taskQueue | quote }}
- name: ADX_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "adx.databaseSecret" . }}
      key: {{ .Values.database.secretKey }}
- name: ADX_DATABASE_SCHEMA_NAME
  value: {{ .Values.database.schema | quote }}
- name: ADX_DATABASE_POOL_SIZE
  value: {{ .Values.database.poolSize | quote }}
- name: ADX_SECURITY_SCANNING_ENABLED
  value: {{ .Values.security.scanningEnabled | quote }}
- name: ADX_SECURITY_MIN_SECURITY_SCORE
  value: {{ .Values.security.minSecurityScore | quote }}
- name: ADX_SECURITY_VULNERABILITY_DB
  value: {{ .Values.security.vulnerabilityDb | quote }}
- name: ADX_REGISTRY_MIRRORS
  value: {{ .Values.registry.mirrors | quote }}
- name: ADX_SANDBOX_DEFAULT_ISOLATION
  value: {{ .Values.sandbox.defaultIsolation | quote }}
- name: ADX_SANDBOX_MAX_SANDBOXES
  value: {{ .Values.sandbox.maxSandboxes | quote }}
- name: ADX_SANDBOX_ENABLE_WASM
  value: {{ .Values.sandbox.enableWasm | quote }}
- name: ADX_SANDBOX_ENABLE_CONTAINERS
  value: {{ .Values.sandbox.enableContainers | quote }}
- name: ADX_SANDBOX_PLATFORM_NAMESPACE_LABEL
  value: {{ .Values.sandbox.platformNamespaceLabel | quote }}
- name: ADX_SERVER_METRICS_PORT
  value: {{ .Values.metrics.port | quote }}
- name: ADX_SERVER_HEALTH_PORT
  value: {{ .Values.health.port | quote }}
{{- end -}}

{{/* The hardened pod: non-root, read-only, no capabilities, RuntimeDefault seccomp. */}}
{{- define "adx.podSecurity" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "adx.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65532
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
