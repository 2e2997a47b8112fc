{{/* The chart's name, overridable. */}}
{{- define "ebb.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Namespaced objects' base name: the release name, with the chart's name unless it is in it already. */}}
{{- define "ebb.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Cluster-scoped objects' base name: the namespace is part of it, so two releases of the same name in
two namespaces never claim the same ClusterRole or ClusterRoleBinding (kedacore/charts#843).
*/}}
{{- define "ebb.clusterName" -}}
{{- printf "%s-%s" (include "ebb.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ebb.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "ebb.labels" -}}
helm.sh/chart: {{ include "ebb.chart" . }}
app.kubernetes.io/name: {{ include "ebb.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ebb
{{- with .Values.additionalLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of one component (operator, adapter): call with (dict "ctx" $ "component" "operator"). */}}
{{- define "ebb.componentLabels" -}}
{{ include "ebb.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "ebb.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ebb.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* The image reference: registry/repository, then @digest when set, else :tag (default appVersion). */}}
{{- define "ebb.image" -}}
{{- $registry := .Values.global.imageRegistry | default .Values.image.registry -}}
{{- $repository := .Values.image.repository -}}
{{- $ref := ternary $repository (printf "%s/%s" $registry $repository) (empty $registry) -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $ref .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end }}

{{- define "ebb.operatorServiceAccount" -}}
{{- if .Values.serviceAccount.operator.create }}
{{- default (printf "%s-operator" (include "ebb.fullname" .)) .Values.serviceAccount.operator.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.operator.name }}
{{- end }}
{{- end }}

{{- define "ebb.adapterServiceAccount" -}}
{{- if .Values.serviceAccount.adapter.create }}
{{- default (printf "%s-adapter" (include "ebb.fullname" .)) .Values.serviceAccount.adapter.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.adapter.name }}
{{- end }}
{{- end }}

{{/* The Secret that holds the adapter's serving certificate (tls.crt, tls.key, ca.crt). */}}
{{- define "ebb.certSecret" -}}
{{- default (printf "%s-certs" (include "ebb.fullname" .)) .Values.certificates.secretName }}
{{- end }}

{{- define "ebb.adapterService" -}}
{{- printf "%s-adapter" (include "ebb.fullname" .) }}
{{- end }}

{{/* Namespaces the operator watches, as a list (empty: all). */}}
{{- define "ebb.watchNamespaces" -}}
{{- $list := list -}}
{{- range (splitList "," .Values.watchNamespace) }}{{ if trim . }}{{ $list = append $list (trim .) }}{{ end }}{{ end -}}
{{- toJson $list -}}
{{- end }}
