import { adapterDeploymentName, certSecretName, childName, MAX_NAME_LENGTH } from './names.js';

const UID = '8a3e4b0c-5f1d-4c9e-9a7b-2d6f0e1c3b5a';

describe('childName (kmeta.ChildName)', () => {
  const cases: Array<{ name: string; parent: string; suffix: string; want: string | RegExp }> = [
    {
      name: 'short parent and suffix are concatenated',
      parent: 'samplesource-a-',
      suffix: UID,
      want: `samplesource-a-${UID}`,
    },
    {
      name: 'exactly 63 characters is kept',
      parent: 'p'.repeat(27),
      suffix: UID,
      want: `${'p'.repeat(27)}${UID}`,
    },
    // The uid suffix (36) leaves less than the 31-character head: parent head + md5(parent+suffix) + suffix start.
    {
      name: 'long parent with a uid suffix is hashed',
      parent: `samplesource-${'x'.repeat(40)}-`,
      suffix: UID,
      want: /^samplesource-x{18}[0-9a-f]{32}$/,
    },
    {
      name: 'long parent with a short suffix keeps the suffix',
      parent: 'y'.repeat(70),
      suffix: '-tls',
      want: /^y{27}[0-9a-f]{32}-tls$/,
    },
    {
      name: 'short parent with a very long suffix pads with the suffix',
      parent: 'ab',
      suffix: 'z'.repeat(70),
      want: /^ab[0-9a-f]{32}z{29}$/,
    },
  ];
  it.each(cases)('$name', ({ parent, suffix, want }) => {
    const got = childName(parent, suffix);
    expect(got.length).toBeLessThanOrEqual(MAX_NAME_LENGTH);
    if (typeof want === 'string') expect(got).toBe(want);
    else expect(got).toMatch(want);
  });

  it('is deterministic and distinguishes long parents that share a prefix', () => {
    const a = childName(`samplesource-${'x'.repeat(60)}-a-`, UID);
    const b = childName(`samplesource-${'x'.repeat(60)}-b-`, UID);
    expect(childName(`samplesource-${'x'.repeat(60)}-a-`, UID)).toBe(a);
    expect(a).not.toBe(b);
  });

  it('never ends with a character a name may not end with', () => {
    expect(childName('abc-', '')).toBe('abc');
    expect(childName('a'.repeat(30) + '.', 'b'.repeat(40))).toMatch(/[a-z0-9]$/);
  });
});

describe('child names of a source', () => {
  const source = { metadata: { name: 'sample-source', uid: UID } };
  it('names the Deployment like upstream sample-source', () => {
    expect(adapterDeploymentName(source)).toBe(`samplesource-sample-source-${UID}`);
  });
  it('gives the Secret a different name, both within 63 characters', () => {
    const secret = certSecretName(source);
    expect(secret).not.toBe(adapterDeploymentName(source));
    expect(secret.length).toBeLessThanOrEqual(63);
    expect(certSecretName({ metadata: { name: 'n'.repeat(63), uid: UID } }).length).toBeLessThanOrEqual(63);
  });
});
