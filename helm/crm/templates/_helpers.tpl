{{/* Full name of the release's objects. */}}
{{- define "crm.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "crm.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Selector labels of one target; call with (dict "root" $ "target" $name). */}}
{{- define "crm.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .target }}
{{- end -}}

{{/* Name of the Secret holding credentials. */}}
{{- define "crm.secretName" -}}
{{- if .Values.secret.existingSecret -}}
{{- .Values.secret.existingSecret -}}
{{- else -}}
{{- include "crm.fullname" . -}}
{{- end -}}
{{- end -}}

{{/* The container image. */}}
{{- define "crm.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Whether a target holds only its own keys; call with (dict "root" $ "name" $name). */}}
{{- define "crm.ownKeys" -}}
{{- if or .root.Values.secret.perTargetKeys (hasKey .root.Values.secret.targetKeys .name) -}}true{{- end -}}
{{- end -}}

{{/* Environment every target has: its keys (its own, or the master secret) and Redis; call
     with (dict "root" $ "name" $name). */}}
{{- define "crm.commonEnv" -}}
{{- if include "crm.ownKeys" . }}
- name: CRM_TARGET_KEYS
  valueFrom: { secretKeyRef: { name: {{ include "crm.secretName" .root }}, key: {{ printf "%s-keys" .name }} } }
{{- else }}
- name: CRM_SECRET
  valueFrom: { secretKeyRef: { name: {{ include "crm.secretName" .root }}, key: CRM_SECRET } }
{{- end }}
- name: CRM_REDIS_URL
  valueFrom: { secretKeyRef: { name: {{ include "crm.secretName" .root }}, key: CRM_REDIS_URL } }
{{- end -}}
