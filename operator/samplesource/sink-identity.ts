// The ServiceAccount a source's sink tokens are minted for: one per source with an OIDC audience,
// controlled by the source (so garbage collection removes it with the source), labelled so the
// operator's informer sees only its own accounts. It mounts nothing and runs nothing: no pod uses
// it, the operator only requests tokens of it (serviceaccounts/token create).
import type { V1ServiceAccount } from '@kubernetes/client-node';
import type { SampleSource } from '../../contract/samplesource.js';
import { controllerReference } from '../runtime/owner.js';
import { sinkServiceAccountName } from './names.js';
import { ADAPTER_APP_LABEL, SOURCE_NAME_LABEL, SOURCE_UID_LABEL } from './resources.js';

/** Value of app.kubernetes.io/component on sink ServiceAccounts: "sink-identity". */
export const SINK_IDENTITY_COMPONENT = 'sink-identity';

/** The sink ServiceAccount of `source`. */
export function buildSinkServiceAccount(source: SampleSource): V1ServiceAccount {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: {
      name: sinkServiceAccountName(source),
      namespace: source.metadata.namespace,
      labels: {
        // The label the operator's informers select on (ADAPTER_POD_SELECTOR).
        [ADAPTER_APP_LABEL]: 'samplesource-adapter',
        'app.kubernetes.io/component': SINK_IDENTITY_COMPONENT,
        'app.kubernetes.io/managed-by': 'samplesource-operator',
        [SOURCE_NAME_LABEL]: source.metadata.name,
        [SOURCE_UID_LABEL]: source.metadata.uid,
      },
      ownerReferences: [
        controllerReference({ apiVersion: source.apiVersion, kind: source.kind, metadata: source.metadata }),
      ],
    },
    // No pod runs as it; its tokens are requested with an explicit audience only.
    automountServiceAccountToken: false,
  };
}

/** True when `obj`'s controller owner reference is `source` (same uid). */
export function isControlledBy(
  obj: { metadata?: { ownerReferences?: Array<{ uid?: string; controller?: boolean }> } },
  source: SampleSource,
): boolean {
  return (obj.metadata?.ownerReferences ?? []).some(
    (ref) => ref.controller === true && ref.uid === source.metadata.uid,
  );
}
