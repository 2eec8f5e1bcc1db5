{{/* Chart name, truncated to the 63 characters a DNS label allows. */}}
{{- define "finops.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name, truncated to 39 characters so that "<fullname>-controlplane" stays
within the 52 characters a StatefulSet name may have, and "<fullname>-controlplane-headless"
within a 63-character DNS label.
*/}}
{{- define "finops.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 39 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 39 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 39 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "finops.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "finops.controlplane.fullname" -}}
{{- printf "%s-controlplane" (include "finops.fullname" .) }}
{{- end }}

{{- define "finops.dataplane.fullname" -}}
{{- printf "%s-dataplane" (include "finops.fullname" .) }}
{{- end }}

{{- define "finops.labels" -}}
helm.sh/chart: {{ include "finops.chart" . }}
app.kubernetes.io/name: {{ include "finops.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "finops.selectorLabels" -}}
app.kubernetes.io/name: {{ include "finops.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "finops.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "finops.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "finops.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}
