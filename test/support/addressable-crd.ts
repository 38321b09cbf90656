// A namespaced CRD whose objects carry `status.address.url`: the Knative Addressable duck type,
// for tests of sink refs to kinds other than core Services.

/** The CRD `<plural>.<group>` (version v1, status subresource) for kind `kind`. */
export function addressableCrd(group: string, plural: string, kind: string) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      names: { plural, singular: kind.toLowerCase(), kind, listKind: `${kind}List` },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                status: {
                  type: 'object',
                  properties: { address: { type: 'object', properties: { url: { type: 'string' } } } },
                },
              },
            },
          },
        },
      ],
    },
  };
}
