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
