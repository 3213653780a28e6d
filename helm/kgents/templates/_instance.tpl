{{/* dagster.yaml: the instance every Dagster process and run Job shares. Layout follows the
     official dagster chart's instance ConfigMap; the password is never in it (env). */}}
{{- define "kgents.postgresDb" -}}
postgres_db:
  hostname: {{ include "kgents.db.host" . | quote }}
  port: {{ include "kgents.db.port" . }}
  db_name: {{ include "kgents.db.name" . | quote }}
  username: {{ include "kgents.db.user" . | quote }}
  password:
    env: DAGSTER_PG_PASSWORD
  # SQLAlchemy 2 reads plain postgresql:// as psycopg 3, which dagster-postgres's event log
  # cannot use (its NOTIFY takes a bound parameter): name the psycopg2 driver.
  scheme: postgresql+psycopg2
  params:
    sslmode: {{ include "kgents.db.sslMode" . | quote }}
{{- end -}}

{{/* Storage only: what the migration Job needs. It launches no run, so it gets no
     K8sRunLauncher (whose in-cluster config needs a service-account token). */}}
{{- define "kgents.storageYaml" -}}
run_storage:
  module: dagster_postgres.run_storage
  class: PostgresRunStorage
  config:
    {{- include "kgents.postgresDb" . | nindent 4 }}
event_log_storage:
  module: dagster_postgres.event_log
  class: PostgresEventLogStorage
  config:
    {{- include "kgents.postgresDb" . | nindent 4 }}
schedule_storage:
  module: dagster_postgres.schedule_storage
  class: PostgresScheduleStorage
  config:
    {{- include "kgents.postgresDb" . | nindent 4 }}
# Run pods are gone when their Job is: their stdout goes to the cluster's log collection.
compute_logs:
  module: dagster._core.storage.noop_compute_log_manager
  class: NoOpComputeLogManager
telemetry:
  enabled: false
{{- end -}}

{{- define "kgents.instanceYaml" -}}
{{- $sa := include "kgents.serviceAccountName" . -}}
{{ include "kgents.storageYaml" . }}
# Every run is a Kubernetes Job, in its own pod: nothing assumes a disk shared with the
# code server or the gateway.
run_launcher:
  module: dagster_k8s
  class: K8sRunLauncher
  config:
    load_incluster_config: true
    job_namespace: {{ include "kgents.jobNamespace" . | quote }}
    service_account_name: {{ $sa | quote }}
    job_image: {{ include "kgents.image" . | quote }}
    image_pull_policy: {{ .Values.image.pullPolicy | quote }}
    {{- with .Values.image.pullSecrets }}
    image_pull_secrets:
      {{- range . }}
      - name: {{ . | quote }}
      {{- end }}
    {{- end }}
    dagster_home: /opt/dagster/dagster_home
    instance_config_map: {{ include "kgents.instanceConfigMapName" . | quote }}
    # Mounted as DAGSTER_PG_PASSWORD (key postgresql-password) by dagster-k8s.
    postgres_password_secret: {{ include "kgents.db.secretName" . | quote }}
    env_config_maps:
      - {{ include "kgents.envConfigMapName" . | quote }}
      {{- range .Values.dagster.runLauncher.envConfigMaps }}
      - {{ . | quote }}
      {{- end }}
    env_secrets:
      {{- if not .Values.dagster.runLauncher.envSecrets }} []{{ end }}
      {{- range .Values.dagster.runLauncher.envSecrets }}
      - {{ . | quote }}
      {{- end }}
    fail_pod_on_run_failure: true
    labels:
      app.kubernetes.io/part-of: kgents
      app.kubernetes.io/instance: {{ .Release.Name | quote }}
    resources:
      {{- toYaml .Values.dagster.runLauncher.resources | nindent 6 }}
    security_context:
      {{- include "kgents.containerSecurityContext" . | nindent 6 }}
    volumes:
      {{- include "kgents.volumes" (dict "root" $ "workspace" true "launcher" true) | nindent 6 }}
    volume_mounts:
      {{- include "kgents.volumeMounts" . | nindent 6 }}
    run_k8s_config:
      pod_spec_config:
        security_context:
          {{- include "kgents.podSecurityContext" . | nindent 10 }}
      container_config:
        env:
          # After DAGSTER_PG_PASSWORD in the Job's env list, so Kubernetes expands it.
          - name: KGENTS_DATABASE_URL
            value: {{ include "kgents.db.url" . | quote }}
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: {{ .Values.dagster.runCoordinator.maxConcurrentRuns }}
    # One run at a time per repository: a repository is a partition, and two refreshes of
    # one repository would race on its rows and its clone.
    tag_concurrency_limits:
      - key: dagster/partition
        value:
          applyLimitPerUniqueValue: true
        limit: 1
{{- end -}}
