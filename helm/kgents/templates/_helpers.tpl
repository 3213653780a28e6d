{{/* Names ------------------------------------------------------------------------- */}}

{{- define "kgents.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name, kept to 40 characters so "<fullname>-postgresql-hl" etc. stay DNS labels. */}}
{{- define "kgents.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kgents.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kgents.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kgents.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Usage: include "kgents.labels" (dict "root" $ "component" "gateway") */}}
{{- define "kgents.labels" -}}
helm.sh/chart: {{ include "kgents.chart" .root }}
{{ include "kgents.selectorLabels" . }}
app.kubernetes.io/part-of: kgents
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end -}}

{{- define "kgents.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "kgents.serviceAccountName" -}}
{{- default (include "kgents.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "kgents.jobNamespace" -}}
{{- default .Release.Namespace .Values.dagster.runLauncher.jobNamespace -}}
{{- end -}}

{{- define "kgents.envConfigMapName" -}}
{{- printf "%s-env" (include "kgents.fullname" .) -}}
{{- end -}}

{{- define "kgents.instanceConfigMapName" -}}
{{- printf "%s-instance" (include "kgents.fullname" .) -}}
{{- end -}}

{{- define "kgents.workspaceClaimName" -}}
{{- default (printf "%s-workspace" (include "kgents.fullname" .)) .Values.workspace.persistence.existingClaim -}}
{{- end -}}

{{/* Database ---------------------------------------------------------------------- */}}

{{- define "kgents.postgresql.fullname" -}}
{{- printf "%s-postgresql" (include "kgents.fullname" .) -}}
{{- end -}}

{{/* The Secret holding key postgresql-password (dagster-k8s's convention). */}}
{{- define "kgents.db.secretName" -}}
{{- if .Values.postgresql.enabled -}}
{{- default (include "kgents.postgresql.fullname" .) .Values.postgresql.existingSecret -}}
{{- else -}}
{{- required "postgresql.enabled=false needs externalDatabase.existingSecret" .Values.externalDatabase.existingSecret -}}
{{- end -}}
{{- end -}}

{{- define "kgents.db.host" -}}
{{- if .Values.postgresql.enabled -}}
{{- printf "%s.%s.svc" (include "kgents.postgresql.fullname" .) .Release.Namespace -}}
{{- else -}}
{{- required "postgresql.enabled=false needs externalDatabase.host" .Values.externalDatabase.host -}}
{{- end -}}
{{- end -}}

{{- define "kgents.db.port" -}}
{{- ternary .Values.postgresql.port .Values.externalDatabase.port .Values.postgresql.enabled -}}
{{- end -}}

{{- define "kgents.db.name" -}}
{{- ternary .Values.postgresql.database .Values.externalDatabase.database .Values.postgresql.enabled -}}
{{- end -}}

{{- define "kgents.db.user" -}}
{{- ternary .Values.postgresql.username .Values.externalDatabase.username .Values.postgresql.enabled -}}
{{- end -}}

{{- define "kgents.db.sslMode" -}}
{{- ternary "disable" .Values.externalDatabase.sslMode .Values.postgresql.enabled -}}
{{- end -}}

{{/* The password comes from the Secret at run time: Kubernetes expands $(DAGSTER_PG_PASSWORD)
     from the variable defined just before it, so no URL with a password is ever rendered. */}}
{{- define "kgents.db.url" -}}
{{- printf "postgresql://%s:$(DAGSTER_PG_PASSWORD)@%s:%v/%s?sslmode=%s" (include "kgents.db.user" .) (include "kgents.db.host" .) (include "kgents.db.port" .) (include "kgents.db.name" .) (include "kgents.db.sslMode" .) -}}
{{- end -}}

{{/* Security ---------------------------------------------------------------------- */}}

{{- define "kgents.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "kgents.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* Environment and volumes shared by every kgents container ------------------------ */}}

{{- define "kgents.env" -}}
- name: DAGSTER_PG_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "kgents.db.secretName" . }}
      key: postgresql-password
- name: KGENTS_DATABASE_URL
  value: {{ include "kgents.db.url" . | quote }}
{{- end -}}

{{- define "kgents.envFrom" -}}
- configMapRef:
    name: {{ include "kgents.envConfigMapName" . }}
{{- end -}}

{{/* Usage: include "kgents.volumes" (dict "root" $ "workspace" true "launcher" true).
     launcher=false mounts the storage-only dagster.yaml: a pod with no Kubernetes API
     token must not load K8sRunLauncher, whose in-cluster config needs one. */}}
{{- define "kgents.volumes" -}}
- name: tmp
  emptyDir: {}
- name: dagster-home
  emptyDir: {}
- name: kgents-home
  emptyDir: {}
- name: dagster-instance
  configMap:
    {{- if .launcher }}
    name: {{ include "kgents.instanceConfigMapName" .root }}
    {{- else }}
    name: {{ include "kgents.instanceConfigMapName" .root }}-storage
    {{- end }}
{{- if and .workspace .root.Values.workspace.persistence.enabled }}
- name: workspace
  persistentVolumeClaim:
    claimName: {{ include "kgents.workspaceClaimName" .root }}
{{- else }}
- name: workspace
  emptyDir: {}
{{- end }}
{{- end -}}

{{- define "kgents.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: dagster-home
  mountPath: /opt/dagster/dagster_home
- name: dagster-instance
  mountPath: /opt/dagster/dagster_home/dagster.yaml
  subPath: dagster.yaml
  readOnly: true
- name: kgents-home
  mountPath: /var/lib/kgents
- name: workspace
  mountPath: /var/lib/kgents/workspace
{{- end -}}

{{- define "kgents.podDefaults" -}}
securityContext:
  {{- include "kgents.podSecurityContext" . | nindent 2 }}
{{- with .Values.image.pullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Secrets generated once: reuse the value already in the cluster (lookup), so
     `helm upgrade` never rotates a password the database was initialised with. */}}
{{- define "kgents.keptSecretValue" -}}
{{- $existing := lookup "v1" "Secret" .namespace .name -}}
{{- if and $existing $existing.data (hasKey $existing.data .key) -}}
{{- index $existing.data .key -}}
{{- else -}}
{{- randAlphaNum 32 | b64enc -}}
{{- end -}}
{{- end -}}
