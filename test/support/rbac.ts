// RBAC manifests the test set-ups create (the node's CoreDNS, the OIDC sink's discovery access).

/** A subject of a binding: a ServiceAccount (with its namespace), a User or a Group. */
export type RbacSubject =
  | { kind: 'ServiceAccount'; name: string; namespace: string }
  | { apiGroup: 'rbac.authorization.k8s.io'; kind: 'User' | 'Group'; name: string };

/** A ClusterRoleBinding named `name` granting the ClusterRole `role` to `subjects`. */
export function clusterRoleBinding(name: string, role: string, subjects: RbacSubject[]) {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects,
  };
}
