{{/* The chart's names and labels, and the settings the roles share. */}}

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

{{/* The process roles the chart runs, one Deployment each: the API when api.enabled, the WASM
     host when wasmHost.enabled. */}}
{{- define "adx.components" -}}
{{- $components := list "operator" "worker" -}}
{{- if .Values.api.enabled -}}
{{- $components = append $components "api" -}}
{{- end -}}
{{- if .Values.wasmHost.enabled -}}
{{- $components = append $components "wasm-host" -}}
{{- end -}}
{{- toJson $components -}}
{{- end -}}

{{/* A role's values: .Values.operator, .Values.worker, .Values.api or .Values.wasmHost. */}}
{{- define "adx.role" -}}
{{- toJson (get (dict "operator" .root.Values.operator "worker" .root.Values.worker "api" .root.Values.api "wasm-host" .root.Values.wasmHost) .component) -}}
{{- end -}}

{{- define "adx.wasmHost" -}}
{{- printf "%s-wasm-host" (include "adx.fullname" .) -}}
{{- end -}}

{{- define "adx.wasmAdminTokenSecret" -}}
{{- .Values.wasmHost.adminTokenSecret | default (printf "%s-wasm-admin-token" (include "adx.fullname" .)) -}}
{{- end -}}

{{/* How the worker reaches the WASM host (its Service), and the admin token the two share. */}}
{{- define "adx.wasmEnv" -}}
{{- if eq (int .Values.wasmHost.invokePort) (int .Values.wasmHost.adminPort) -}}
{{- fail "wasmHost.invokePort and wasmHost.adminPort must differ" -}}
{{- end -}}
- name: ADX_WASM_ADMIN_URL
  value: {{ printf "http://%s.%s.svc:%d" (include "adx.wasmHost" .) .Release.Namespace (int .Values.wasmHost.adminPort) | quote }}
- name: ADX_WASM_INVOKE_URL
  value: {{ printf "http://%s.%s.svc:%d" (include "adx.wasmHost" .) .Release.Namespace (int .Values.wasmHost.invokePort) | quote }}
- name: ADX_WASM_SERVICE_HOST
  value: {{ printf "%s.%s.svc.cluster.local" (include "adx.wasmHost" .) .Release.Namespace | quote }}
- name: ADX_WASM_ADMIN_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "adx.wasmAdminTokenSecret" . }}
      key: {{ .Values.wasmHost.adminTokenSecretKey }}
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
  value: {{ and .Values.sandbox.enableWasm .Values.wasmHost.enabled | quote }}
- name: ADX_SANDBOX_ENABLE_CONTAINERS
  value: {{ .Values.sandbox.enableContainers | quote }}
- name: ADX_SANDBOX_PLATFORM_NAMESPACE_LABEL
  value: {{ .Values.sandbox.platformNamespaceLabel | quote }}
- name: ADX_SANDBOX_TRUSTED_MODULES
  value: {{ .Values.sandbox.trustedModules | quote }}
- name: ADX_SERVER_METRICS_PORT
  value: {{ .Values.metrics.port | quote }}
- name: ADX_SERVER_HEALTH_PORT
  value: {{ .Values.health.port | quote }}
- name: ADX_SERVER_LOG_FORMAT
  value: {{ .Values.logFormat | quote }}
{{- end -}}

{{/* The marketplace's settings: the workers' and the API's only (payments, webhooks and the
     sync run there; the runners, which run module code, never see the Stripe key or the
     remote's token). */}}
{{- define "adx.marketplaceEnv" -}}
- name: ADX_MARKETPLACE_REVOCATION_POLICY
  value: {{ .Values.marketplace.revocationPolicy | quote }}
- name: ADX_MARKETPLACE_ENABLE_ANALYTICS
  value: {{ .Values.marketplace.enableAnalytics | quote }}
- name: ADX_MARKETPLACE_BASE_URL
  value: {{ .Values.marketplace.remoteUrl | quote }}
- name: ADX_MARKETPLACE_SYNC_INTERVAL_SECONDS
  value: {{ .Values.marketplace.syncIntervalSeconds | quote }}
{{- with .Values.marketplace.stripeSecret }}
- name: ADX_MARKETPLACE_STRIPE_API_KEY
  valueFrom:
    secretKeyRef: {name: {{ . }}, key: {{ $.Values.marketplace.stripeApiKeyKey }}}
- name: ADX_MARKETPLACE_STRIPE_WEBHOOK_SECRET
  valueFrom:
    secretKeyRef: {name: {{ . }}, key: {{ $.Values.marketplace.stripeWebhookSecretKey }}}
{{- end }}
{{- with .Values.marketplace.remoteTokenSecret }}
- name: ADX_MARKETPLACE_API_KEY
  valueFrom:
    secretKeyRef: {name: {{ . }}, key: {{ $.Values.marketplace.remoteTokenKey }}}
{{- end }}
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

{{- define "adx.runnerAdminTokenSecret" -}}
{{- .Values.runner.adminTokenSecret | default (printf "%s-runner-admin-token" (include "adx.fullname" .)) -}}
{{- end -}}

{{/* The worker's view of the tenants' runners: the Deployment template it makes them from,
their addresses ({service} and {namespace} are filled in per tenant), the shared token. */}}
{{- define "adx.runnerEnv" -}}
{{- if eq (int .Values.runner.invokePort) (int .Values.runner.adminPort) -}}
{{- fail "runner.invokePort and runner.adminPort must differ" -}}
{{- end -}}
- name: ADX_RUNNER_DEPLOYMENT_TEMPLATE
  value: /etc/adx/runner/deployment.yaml
- name: ADX_RUNNER_ADMIN_URL
  value: {{ printf "http://{service}.{namespace}.svc:%d" (int .Values.runner.adminPort) | quote }}
- name: ADX_RUNNER_INVOKE_URL
  value: {{ printf "http://{service}.{namespace}.svc:%d" (int .Values.runner.invokePort) | quote }}
{{ include "adx.runnerToken" . }}
{{- end -}}

{{- define "adx.runnerToken" -}}
- name: ADX_RUNNER_ADMIN_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "adx.runnerAdminTokenSecret" . }}
      key: {{ .Values.runner.adminTokenSecretKey }}
{{- end -}}
