{{/* Chart name, truncated to the 63 characters Kubernetes allows in names. */}}
{{- define "pems-sync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pems-sync.fullname" -}}
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

{{- define "pems-sync.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pems-sync.labels" -}}
helm.sh/chart: {{ include "pems-sync.chart" . }}
{{ include "pems-sync.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "pems-sync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pems-sync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The Secret with the PEMS_SYNC_* secrets: an existing one, or the chart's. */}}
{{- define "pems-sync.secretName" -}}
{{- if .Values.secret.existingSecret }}
{{- .Values.secret.existingSecret }}
{{- else }}
{{- include "pems-sync.fullname" . }}
{{- end }}
{{- end }}

{{- define "pems-sync.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
The processes: values key, name suffix and whether the process serves the control API.
Returned as YAML; templates read it with fromYaml.
*/}}
{{- define "pems-sync.components" -}}
components:
  - key: sink
    name: sink
    api: false
  - key: controlApi
    name: control-api
    api: true
  - key: source
    name: source
    api: false
{{- end }}
