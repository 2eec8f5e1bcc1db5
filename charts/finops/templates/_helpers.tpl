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

{{/*
gRPC TLS (values grpcTls). Where the Secrets are mounted, and the flags that use them.
*/}}
{{- define "finops.grpcTls.serverDir" -}}/etc/finops/grpc-tls{{- end }}
{{- define "finops.grpcTls.clientCaDir" -}}/etc/finops/grpc-client-ca{{- end }}

{{- define "finops.grpcTls.validate" -}}
{{- if .Values.grpcTls.enabled }}
{{- if not .Values.grpcTls.serverSecret }}
{{- fail "grpcTls.enabled needs grpcTls.serverSecret (a Secret with tls.crt, tls.key and ca.crt)" }}
{{- end }}
{{- if not .Values.grpcTls.dataPlaneSecret }}
{{- fail "grpcTls.enabled needs grpcTls.dataPlaneSecret (a Secret with ca.crt, plus tls.crt and tls.key when grpcTls.mutual)" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
"true" when the data plane needs --allow-plaintext. That one flag covers both of its links: the
gRPC link to the control plane (plaintext when grpcTls is off) and its own HTTP listener, which
the chart binds to 0.0.0.0 (plaintext unless dataPlane.tls.enabled, when the chart has that
value). Empty otherwise.
*/}}
{{- define "finops.dataplane.allowPlaintext" -}}
{{- $listenerTls := false }}
{{- if kindIs "map" .Values.dataPlane.tls }}
{{- $listenerTls = .Values.dataPlane.tls.enabled }}
{{- end }}
{{- if or (not .Values.grpcTls.enabled) (not $listenerTls) }}true{{- end }}
{{- end }}

{{/*
Listener TLS (values dataPlane.tls): where the data plane's HTTPS certificate Secret is mounted.
*/}}
{{- define "finops.dataplane.listenerTlsDir" -}}/etc/finops/listener-tls{{- end }}

{{/*
The data-plane credential (values dataPlaneToken). "true" when the data planes authenticate with
the token, i.e. whenever mutual TLS is off; empty otherwise.
*/}}
{{- define "finops.dataPlaneToken.enabled" -}}
{{- if not (and .Values.grpcTls.enabled .Values.grpcTls.mutual) }}true{{- end }}
{{- end }}

{{/* The Secret holding the token(s): the user's, or the one the chart makes. */}}
{{- define "finops.dataPlaneToken.secretName" -}}
{{- default (printf "%s-dataplane-token" (include "finops.fullname" .)) .Values.dataPlaneToken.existingSecret }}
{{- end }}

{{/* The token file, where the Secret is mounted in both pods. */}}
{{- define "finops.dataPlaneToken.dir" -}}/etc/finops/dataplane-token{{- end }}
{{- define "finops.dataPlaneToken.file" -}}
{{- printf "%s/%s" (include "finops.dataPlaneToken.dir" .) (.Values.dataPlaneToken.key | default "token") }}
{{- end }}
