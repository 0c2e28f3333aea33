{{/* Name of the chart, overridable like every common chart. */}}
{{- define "tvtt-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name when it already contains the chart name. */}}
{{- define "tvtt-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "tvtt-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tvtt-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tvtt-operator.labels" -}}
{{ include "tvtt-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: traveller-vtt
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "tvtt-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tvtt-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create=false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Namespaces watched in namespaced mode (the release namespace unless listed). */}}
{{- define "tvtt-operator.watchNamespaces" -}}
{{- if .Values.watchNamespaces }}
{{- toJson (uniq .Values.watchNamespaces) }}
{{- else }}
{{- toJson (list .Release.Namespace) }}
{{- end }}
{{- end }}

{{- define "tvtt-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
The operator's PolicyRules: exactly tvtt_operator.rbac.operator_rules() (tests/contract and
tests/packaging render this chart and compare, so the two cannot drift). Used by the Role
(namespaced mode) and the ClusterRole (clusterWide) alike.
*/}}
{{- define "tvtt-operator.rules" -}}
# The TravellerVTT resources: watched; status written; finalizers only for blockOwnerDeletion.
- apiGroups: [traveller-vtt.io]
  resources: [travellervtts]
  verbs: [list, watch]
- apiGroups: [traveller-vtt.io]
  resources: [travellervtts/status]
  verbs: [patch]
- apiGroups: [traveller-vtt.io]
  resources: [travellervtts/finalizers]
  verbs: [update]
# Children: watched, applied server-side (create + patch), deleted when no longer wanted.
- apiGroups: [""]
  resources: [configmaps, services, secrets]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [apps]
  resources: [deployments, statefulsets]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [networking.k8s.io]
  resources: [ingresses, networkpolicies]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [batch]
  resources: [cronjobs]
  verbs: [list, watch, create, patch, delete]
# The ManualRollback Event.
- apiGroups: [""]
  resources: [events]
  verbs: [create]
# Game server pods: watched, their /api/summary polled (BATTLES, PLAYERS, the autoscaling
# floor); patched to set controller.kubernetes.io/pod-deletion-cost (emptiest pod goes first).
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch, patch]
# The Redis claim: reported in status, expanded when spec.redis.storageSize grows; the backup
# volume: created once (spec.backup), never deleted by the operator.
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [list, watch, create, patch]
# The rollout analysis's rollback: the previous ReplicaSet's pod template.
- apiGroups: [apps]
  resources: [replicasets]
  verbs: [list]
# A metadata-only check that the Ingress's TLS Secret exists.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
{{- end }}

{{/*
Leader election: exactly tvtt_operator.rbac.leader_election_rules(), in the release namespace.
*/}}
{{- define "tvtt-operator.leaderElectionRules" -}}
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, create, update]
{{- end }}
