// The project's images, built as users build them: both Dockerfiles, unchanged, by BuildKit (runc
// worker in the node's mount namespace, host network so `RUN npm ci` reaches the npm registry), FROM
// the locally assembled Node base served by the node's registry as the mirror of docker.io. Results
// are cached by a hash of the build context, so a warm run imports them without building.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { repoRoot } from '../controlplane/controlplane.js';
import { pollUntil } from '../controlplane/processes.js';
import { run } from './host.js';
import type { RealNode } from './node.js';

/** The images config/ names, and the Dockerfile each is built from. */
export const PROJECT_IMAGES = [
  { name: 'samplesource-adapter:0.1.0', dockerfile: 'Dockerfile.adapter', file: 'adapter.tar' },
  { name: 'samplesource-operator:0.1.0', dockerfile: 'Dockerfile.operator', file: 'operator.tar' },
] as const;

/** example.yaml's sink (Knative's event display), played by the adapter image running the project's stand-in. */
export const EVENT_DISPLAY_IMAGE = 'gcr.io/knative-releases/knative.dev/eventing/cmd/event_display:latest';

const cacheRoot = () =>
  process.env.SAMPLESOURCE_CACHE ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'samplesource');

// What .dockerignore leaves out of the context (tests, docs, local state): changes there do not rebuild.
const OUTSIDE_CONTEXT =
  /^(\.git|\.tmp|\.ci|node_modules|dist|coverage|bench|docs|test)(\/|$)|\.test\.ts$|(^|\/)(?!README\.md$)[^/]*\.md$|^\.env/;

/** A hash of every file BuildKit sends as context (tracked or new, not ignored), plus what else decides the result. */
export function buildContextHash(extra: string[]): string {
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], {
    cwd: repoRoot,
    encoding: 'utf8',
  })
    .split('\0')
    .filter(
      (f) =>
        f &&
        !OUTSIDE_CONTEXT.test(f) &&
        existsSync(join(repoRoot, f)) &&
        statSync(join(repoRoot, f)).isFile(),
    )
    .sort();
  const hash = createHash('sha256');
  for (const e of extra) hash.update(`${e}\n`);
  for (const f of files)
    hash
      .update(`${f}\0`)
      .update(readFileSync(join(repoRoot, f)))
      .update('\0');
  return hash.digest('hex').slice(0, 16);
}

/** Image tarballs (and how long building took) after {@link ensureProjectImages}. */
export interface ProjectImages {
  dir: string;
  built: boolean;
  buildMs: number;
  /** Uncompressed size per image in bytes, as containerd reports it after import. */
  sizes: Record<string, number>;
}

/** Builds both images with BuildKit unless the cache holds them for this context; imports them into the node. */
export async function ensureProjectImages(node: RealNode, baseImages: string): Promise<ProjectImages> {
  const buildkitVersion = /^BUILDKIT_VERSION=(\S+)$/m.exec(
    readFileSync(join(repoRoot, 'test/node/versions.env'), 'utf8'),
  )?.[1];
  // The base images' directory name is already a hash of their keys (base-images.sh).
  const key = buildContextHash([`buildkit ${buildkitVersion}`, basename(baseImages)]);
  const dir = join(cacheRoot(), 'images', 'project', key);
  const started = Date.now();
  let built = false;
  const crane = join(node.binDir, 'crane');
  // The base is pushed where docker.io's mirror points: `FROM node:24-slim` finds it as it would the public one.
  run(crane, [
    'push',
    '--insecure',
    join(baseImages, 'node-base.tar'),
    `${node.registry}/library/node:24-slim`,
  ]);
  if (!PROJECT_IMAGES.every((i) => existsSync(join(dir, i.file)))) {
    await buildWithBuildKit(node, dir);
    built = true;
  }
  const buildMs = Date.now() - started;
  const sizes: Record<string, number> = {};
  for (const image of PROJECT_IMAGES) {
    node.client.importImage(join(dir, image.file));
  }
  for (const line of node.client.ctr(['images', 'ls']).split('\n')) {
    for (const image of PROJECT_IMAGES)
      if (line.startsWith(`docker.io/library/${image.name} `)) sizes[image.name] = parseSize(line);
  }
  await publishEventDisplay(node, join(dir, 'adapter.tar'));
  return { dir, built, buildMs, sizes };
}

function parseSize(line: string): number {
  const m = /\s([\d.]+)\s*(KiB|MiB|GiB|B)\s/.exec(line);
  if (!m) return 0;
  const unit = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }[m[2] as 'B'];
  return Math.round(Number(m[1]) * unit);
}

async function buildWithBuildKit(node: RealNode, dir: string): Promise<void> {
  const state = join(node.stateDir, 'buildkit');
  mkdirSync(state, { recursive: true });
  const socket = join(state, 'buildkitd.sock');
  const config = join(state, 'buildkitd.toml');
  writeFileSync(
    config,
    [
      `root = "${join(state, 'root')}"`,
      '[grpc]',
      `  address = ["unix://${socket}"]`,
      '[worker.oci]',
      '  enabled = true',
      `  binary = "${join(node.binDir, 'runc')}"`,
      '  snapshotter = "overlayfs"',
      // Build steps use the host's network (the npm registry); they run in the node's cgroup subtree.
      '  networkMode = "host"',
      `  defaultCgroupParent = "/${node.name}/buildkit"`,
      '  gc = false',
      '[worker.containerd]',
      '  enabled = false',
      '[registry."docker.io"]',
      `  mirrors = ["${node.registry}"]`,
      `[registry."${node.registry}"]`,
      '  http = true',
      '  insecure = true',
      '',
    ].join('\n'),
  );
  const buildkitd = node.spawn('buildkitd', join(node.binDir, 'buildkitd'), [`--config=${config}`], {
    hostNetwork: true,
  });
  const buildctl = (args: string[]) =>
    run(join(node.binDir, 'buildctl'), [`--addr=unix://${socket}`, ...args]);
  try {
    await pollUntil(
      `buildkitd (log: ${buildkitd.logFile})`,
      async () => {
        if (buildkitd.child.exitCode !== null)
          throw new Error(`buildkitd exited (log: ${buildkitd.logFile})`);
        buildctl(['debug', 'workers']);
        return true;
      },
      60_000,
      250,
    );
    mkdirSync(dir, { recursive: true });
    for (const image of PROJECT_IMAGES) {
      const t0 = Date.now();
      const tmp = join(dir, `${image.file}.tmp`);
      const log = join(node.logDir, `buildkit-${image.file.replace('.tar', '')}.log`);
      try {
        const out = execFileSync(
          join(node.binDir, 'buildctl'),
          [
            `--addr=unix://${socket}`,
            'build',
            '--progress=plain',
            '--frontend=dockerfile.v0',
            `--local=context=${repoRoot}`,
            `--local=dockerfile=${repoRoot}`,
            `--opt=filename=${image.dockerfile}`,
            // The built-in Dockerfile frontend, instead of fetching `# syntax=docker/dockerfile:1` from Docker Hub.
            '--opt=cmdline=builtin',
            `--output=type=docker,name=${image.name},dest=${tmp}`,
          ],
          { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 << 20 },
        );
        writeFileSync(log, out);
      } catch (err) {
        const e = err as { stderr?: string; stdout?: string };
        writeFileSync(log, `${e.stdout ?? ''}${e.stderr ?? ''}`);
        throw new Error(
          `BuildKit failed to build ${image.dockerfile} (log: ${log}):\n${(e.stderr ?? '').split('\n').slice(-25).join('\n')}`,
          {
            cause: err,
          },
        );
      }
      renameSync(tmp, join(dir, image.file));
      console.log(`built ${image.name} from ${image.dockerfile} with BuildKit in ${Date.now() - t0} ms`);
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  } finally {
    await buildkitd.stop(5_000);
  }
}

/** The event display example.yaml names: the adapter image running the project's stand-in, pushed as gcr.io's. */
async function publishEventDisplay(node: RealNode, adapterTar: string): Promise<void> {
  const crane = join(node.binDir, 'crane');
  const layerDir = join(node.stateDir, 'event-display');
  mkdirSync(join(layerDir, 'root/app'), { recursive: true });
  writeFileSync(
    join(layerDir, 'root/app/event-display.mjs'),
    readFileSync(join(repoRoot, 'test/nodeagent/images/event-display.mjs')),
  );
  run('tar', [
    '-C',
    join(layerDir, 'root'),
    '--owner=0',
    '--group=0',
    '-cf',
    join(layerDir, 'layer.tar'),
    'app',
  ]);
  const base = `${node.registry}/samplesource/adapter:base`;
  run(crane, ['push', '--insecure', adapterTar, base]);
  const target = `${node.registry}/${EVENT_DISPLAY_IMAGE.replace(/^gcr\.io\//, '')}`;
  run(crane, [
    'append',
    '--insecure',
    '-b',
    base,
    '-f',
    join(layerDir, 'layer.tar'),
    '-t',
    `${target}-build`,
  ]);
  run(crane, [
    'mutate',
    '--insecure',
    `${target}-build`,
    '--entrypoint=node,/app/event-display.mjs',
    '-t',
    target,
  ]);
}
