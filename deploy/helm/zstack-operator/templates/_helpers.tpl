{{/*
Names, labels and the derived settings every template shares.
*/}}

{{- define "zstack-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified name: the release name alone when it already contains the chart name, so a
release called "zstack-operator" yields "zstack-operator", not "zstack-operator-zstack-operator".
*/}}
{{- define "zstack-operator.fullname" -}}
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

{{- define "zstack-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "zstack-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "zstack-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "zstack-operator.labels" -}}
helm.sh/chart: {{ include "zstack-operator.chart" . }}
{{ include "zstack-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: zstack-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "zstack-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "zstack-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "zstack-operator.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
The credentials Secret: an existing one, or the one the chart creates, by default named after
the release.
*/}}
{{- define "zstack-operator.credentialsSecretName" -}}
{{- if and .Values.credentials.create .Values.credentials.existingSecret }}
{{- fail "credentials.create and credentials.existingSecret exclude each other: create the Secret or name an existing one" }}
{{- end }}
{{- default (printf "%s-credentials" (include "zstack-operator.fullname" .)) .Values.credentials.existingSecret }}
{{- end }}

{{- define "zstack-operator.credentialsSecretNamespace" -}}
{{- if .Values.credentials.create }}
{{- .Release.Namespace }}
{{- else }}
{{- default .Release.Namespace .Values.credentials.existingSecretNamespace }}
{{- end }}
{{- end }}

{{/*
ZSTACK_CREDENTIALS_SECRET. A Secret in the operator's own namespace is written as
$(POD_NAMESPACE)/NAME, which the kubelet expands, so the rendered manifests keep working when a
kustomize overlay moves them to another namespace.
*/}}
{{- define "zstack-operator.credentialsSecretRef" -}}
{{- $namespace := include "zstack-operator.credentialsSecretNamespace" . }}
{{- $name := include "zstack-operator.credentialsSecretName" . }}
{{- if eq $namespace .Release.Namespace }}
{{- printf "$(POD_NAMESPACE)/%s" $name }}
{{- else }}
{{- printf "%s/%s" $namespace $name }}
{{- end }}
{{- end }}

{{- define "zstack-operator.caConfigMapName" -}}
{{- if .Values.zstack.tls.caBundle }}
{{- printf "%s-ca" (include "zstack-operator.fullname" .) }}
{{- else }}
{{- .Values.zstack.tls.existingCaBundleConfigMap.name }}
{{- end }}
{{- end }}

{{- define "zstack-operator.caConfigMapKey" -}}
{{- if .Values.zstack.tls.caBundle }}ca.crt{{ else }}{{ .Values.zstack.tls.existingCaBundleConfigMap.key }}{{ end }}
{{- end }}
