// The certificates a kube-apiserver needs, laid out the way controller-runtime's envtest lays them out.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCertificateAuthority, type CertificateAuthority, type KeyPairPem } from '../../control/pki.js';

/** Paths and PEMs of the control plane's PKI. */
export interface ControlPlanePki {
  servingCaPem: string;
  clientCa: CertificateAuthority;
  admin: KeyPairPem;
  files: {
    servingCert: string;
    servingKey: string;
    clientCaCert: string;
    saSignerCert: string;
    saSignerKey: string;
    servingCaCert: string;
  };
}

/** Creates the serving CA and certificate, the client CA, the admin client certificate and the SA signer. */
export async function writeControlPlanePki(
  dir: string,
  extraIpAddresses: string[] = [],
): Promise<ControlPlanePki> {
  const servingCa = await createCertificateAuthority({
    commonName: 'samplesource-test-serving-ca',
    validityHours: 168,
  });
  const serving = await servingCa.issue({
    commonName: 'localhost',
    dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
    // Extra addresses: a real node's pods reach the server on the veth's host end and the `kubernetes` Service IP.
    ipAddresses: ['127.0.0.1', ...extraIpAddresses],
    usages: ['server'],
    validityHours: 168,
  });
  const clientCa = await createCertificateAuthority({
    commonName: 'samplesource-test-client-ca',
    validityHours: 168,
  });
  const admin = await clientCa.issue({
    commonName: 'admin',
    organizations: ['system:masters'],
    usages: ['client'],
    validityHours: 168,
  });
  // Service-account tokens are signed with this key; the apiserver verifies them with its certificate.
  const saSigner = await createCertificateAuthority({
    commonName: 'samplesource-test-sa-signer',
    validityHours: 168,
  });

  const files = {
    servingCert: join(dir, 'apiserver.crt'),
    servingKey: join(dir, 'apiserver.key'),
    clientCaCert: join(dir, 'client-ca.crt'),
    saSignerCert: join(dir, 'sa-signer.crt'),
    saSignerKey: join(dir, 'sa-signer.key'),
    servingCaCert: join(dir, 'serving-ca.crt'),
  };
  // The serving chain includes the CA so clients that only trust the CA verify it either way.
  await writeFile(files.servingCert, serving.certPem + servingCa.certPem, { mode: 0o600 });
  await writeFile(files.servingKey, serving.keyPem, { mode: 0o600 });
  await writeFile(files.clientCaCert, clientCa.certPem, { mode: 0o600 });
  await writeFile(files.saSignerCert, saSigner.certPem, { mode: 0o600 });
  await writeFile(files.saSignerKey, saSigner.keyPem, { mode: 0o600 });
  await writeFile(files.servingCaCert, servingCa.certPem, { mode: 0o600 });
  return { servingCaPem: servingCa.certPem, clientCa, admin, files };
}
