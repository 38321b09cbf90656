// Configuration files of the node's daemons, written into its state directory. Paths under /run and
// /var/lib are the node's own (its mount namespace has a tmpfs on /run and its state dir on /var/lib).

import { clusterRoleBinding } from '../support/rbac.js';
import { restrictedDeployment } from '../support/restricted.js';

/** Cluster-wide addresses the node and control plane agree on. */
export const CLUSTER = {
  /** Pod addresses (bridge + host-local), inside the node's network namespace only. */
  podCidr: '10.244.0.0/16',
  /** The one node's pod range. */
  nodePodCidr: '10.244.0.0/24',
  /** Must match the API server's --service-cluster-ip-range. */
  serviceCidr: '10.0.0.0/24',
  /** The `kubernetes` Service. */
  apiServiceIp: '10.0.0.1',
  /** CoreDNS's Service (kubelet's clusterDNS). */
  dnsServiceIp: '10.0.0.10',
  domain: 'cluster.local',
} as const;

/** The pinned sandbox image (imported locally; kubelet never pulls it). */
export const PAUSE_IMAGE = 'samplesource.local/pause:0.1';
/** CoreDNS's image name in containerd. */
export const COREDNS_IMAGE = 'samplesource.local/coredns:0.1';
/** containerd's CRI socket inside the node's mount namespace. */
export const CONTAINERD_SOCKET = '/run/containerd/containerd.sock';

/** containerd 2.x (config version 3) with the CRI plugin set up for this machine. */
export function containerdConfig(o: {
  binDir: string;
  cniConfDir: string;
  registryHostsDir: string;
}): string {
  return `version = 3
root = '/var/lib/containerd'
state = '/run/containerd'

[grpc]
  address = '${CONTAINERD_SOCKET}'

[plugins.'io.containerd.internal.v1.opt']
  path = '/var/lib/containerd-opt'

[plugins.'io.containerd.nri.v1.nri']
  disable = true

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = '${PAUSE_IMAGE}'
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = '${o.registryHostsDir}'

[plugins.'io.containerd.cri.v1.runtime']
  enable_selinux = false
  # Processes here lack CAP_SYS_RESOURCE: without this every sandbox fails writing oom_score_adj.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = 'runc'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = 'io.containerd.runc.v2'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = '${o.binDir}/runc'
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ['${o.binDir}']
    conf_dir = '${o.cniConfDir}'

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = '127.0.0.1'
  stream_server_port = '0'
`;
}

/** A registry mirror for containerd: pulls of `host`'s images go to our registry over plain HTTP. */
export function registryHostsToml(host: string, mirror: string): string {
  const server = host === 'docker.io' ? 'https://registry-1.docker.io' : `https://${host}`;
  return `server = '${server}'\n\n[host.'http://${mirror}']\n  capabilities = ['pull', 'resolve']\n  skip_verify = true\n`;
}

/** Pod network: a bridge in the node's netns, host-local addresses, port maps. */
export function cniConfig(): string {
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'samplesource-node',
      plugins: [
        {
          type: 'bridge',
          bridge: 'cni0',
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: CLUSTER.nodePodCidr }]],
            routes: [{ dst: '0.0.0.0/0' }],
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

/** KubeletConfiguration for a cgroup v1 machine, with nothing host-wide touched. */
export function kubeletConfig(o: {
  nodeAddress: string;
  cgroupRoot: string;
  clientCaFile: string;
  resolvConf: string;
  podLogsDir: string;
  volumePluginDir: string;
}): string {
  return JSON.stringify(
    {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      // v1.37 refuses cgroup v1 unless told; it still supports it (so do containerd and runc).
      failCgroupV1: false,
      cgroupDriver: 'cgroupfs',
      cgroupRoot: o.cgroupRoot,
      address: o.nodeAddress,
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: false },
        x509: { clientCAFile: o.clientCaFile },
      },
      // Only holders of a certificate from the test cluster's client CA reach it (the API server's
      // kubelet client); the port is on the node's own address only.
      authorization: { mode: 'AlwaysAllow' },
      clusterDNS: [CLUSTER.dnsServiceIp],
      clusterDomain: CLUSTER.domain,
      resolvConf: o.resolvConf,
      containerRuntimeEndpoint: `unix://${CONTAINERD_SOCKET}`,
      podLogsDir: o.podLogsDir,
      // Default /usr/libexec/kubernetes/...: kubelet would create it on the host.
      volumePluginDir: o.volumePluginDir,
      failSwapOn: false,
      protectKernelDefaults: false,
      // A shared disk: evict only when really full, and keep the locally imported images.
      evictionHard: {
        'memory.available': '50Mi',
        'nodefs.available': '1%',
        'nodefs.inodesFree': '1%',
        'imagefs.available': '1%',
      },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      // Secret volumes follow updates within seconds (default 1 m): certificate rotation tests wait less.
      syncFrequency: '10s',
      serializeImagePulls: false,
      registerNode: true,
      staticPodPath: '',
      shutdownGracePeriod: '0s',
    },
    null,
    2,
  );
}

/** KubeProxyConfiguration: iptables in the node's netns, host-global conntrack sysctls left alone. */
export function kubeProxyConfig(o: { kubeconfig: string; nodeName: string }): string {
  return JSON.stringify(
    {
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      clientConnection: { kubeconfig: o.kubeconfig },
      hostnameOverride: o.nodeName,
      mode: 'iptables',
      clusterCIDR: CLUSTER.podCidr,
      // Zero means "leave as is": nf_conntrack_max and the timeouts are global to the machine.
      conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
      // Service traffic between pods on the one bridge returns through the node's routing (and
      // conntrack) instead of depending on br_netfilter settings.
      iptables: { masqueradeAll: true },
    },
    null,
    2,
  );
}

/** CoreDNS for cluster.local only: no upstream forwarding (the node's netns has no resolver, by design). */
export function coreDnsManifests(): string {
  const labels = { 'k8s-app': 'kube-dns' };
  const objects = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: 'kube-system' } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'samplesource-node:coredns' },
      rules: [
        {
          apiGroups: [''],
          resources: ['endpoints', 'services', 'pods', 'namespaces'],
          verbs: ['list', 'watch'],
        },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    },
    clusterRoleBinding('samplesource-node:coredns', 'samplesource-node:coredns', [
      { kind: 'ServiceAccount', name: 'coredns', namespace: 'kube-system' },
    ]),
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'coredns', namespace: 'kube-system' },
      data: {
        Corefile: [
          '.:53 {',
          '    errors',
          '    health :8080',
          '    ready :8181',
          `    kubernetes ${CLUSTER.domain} in-addr.arpa ip6.arpa {`,
          '        pods insecure',
          '        fallthrough in-addr.arpa ip6.arpa',
          '    }',
          '    cache 30',
          '}',
          '',
        ].join('\n'),
      },
    },
    restrictedDeployment({
      name: 'coredns',
      namespace: 'kube-system',
      labels,
      pod: {
        serviceAccountName: 'coredns',
        dnsPolicy: 'Default',
        containers: [
          {
            name: 'coredns',
            image: COREDNS_IMAGE,
            imagePullPolicy: 'Never',
            args: ['-conf', '/etc/coredns/Corefile'],
            ports: [
              { name: 'dns', containerPort: 53, protocol: 'UDP' },
              { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
            ],
            readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 2 },
            livenessProbe: { httpGet: { path: '/health', port: 8080 }, periodSeconds: 10 },
            volumeMounts: [{ name: 'config', mountPath: '/etc/coredns', readOnly: true }],
          },
        ],
        volumes: [{ name: 'config', configMap: { name: 'coredns' } }],
      },
    }),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: 'kube-system', labels },
      spec: {
        selector: labels,
        clusterIP: CLUSTER.dnsServiceIp,
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
          { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
        ],
      },
    },
  ];
  return objects.map((o) => JSON.stringify(o)).join('\n---\n');
}
