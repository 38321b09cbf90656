// The security settings of the Pod Security "restricted" profile, as the test workloads (sinks,
// CoreDNS) run them: numeric user *and* group, because kubelet takes only the image's user.

/** Pod-level securityContext: non-root, numeric uid/gid 65532, the runtime's default seccomp profile. */
export const RESTRICTED_POD_SECURITY = {
  runAsNonRoot: true,
  runAsUser: 65532,
  runAsGroup: 65532,
  seccompProfile: { type: 'RuntimeDefault' },
};

/** Container-level securityContext: no privilege escalation, read-only root, no capabilities. */
export const RESTRICTED_CONTAINER_SECURITY = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
};

/** What {@link restrictedDeployment} needs beyond the pod's own settings. */
export interface RestrictedWorkload<C extends { name: string }, P extends object> {
  name: string;
  namespace?: string;
  labels: Record<string, string>;
  /** Pod spec fields besides the pod securityContext (containers get the restricted one added). */
  pod: P & { containers: C[] };
}

/** A one-replica Deployment (apps/v1) of a test workload, its pod and every container restricted. */
export function restrictedDeployment<C extends { name: string }, P extends object>(
  w: RestrictedWorkload<C, P>,
) {
  const { containers, ...pod } = w.pod;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: w.name,
      ...(w.namespace !== undefined ? { namespace: w.namespace } : {}),
      labels: w.labels,
    },
    spec: {
      replicas: 1,
      selector: { matchLabels: w.labels },
      template: {
        metadata: { labels: w.labels },
        spec: {
          ...pod,
          securityContext: RESTRICTED_POD_SECURITY,
          containers: containers.map((c) => ({ ...c, securityContext: RESTRICTED_CONTAINER_SECURITY })),
        },
      },
    },
  };
}
