// The node agent's stand-in for an image entrypoint: which local command a container runs.
import { commandForContainer, type ImageMap } from './pod-spec.js';

const images: ImageMap = {
  'samplesource-adapter': {
    command: '/usr/bin/node',
    args: ['--enable-source-maps', '/repo/dist/adapter/main.js'],
  },
};

describe('commandForContainer', () => {
  it.each([
    {
      name: 'the image entrypoint when the container has no command',
      container: { image: 'samplesource-adapter:0.1.0' },
      want: { command: '/usr/bin/node', args: ['--enable-source-maps', '/repo/dist/adapter/main.js'] },
    },
    {
      name: 'a node command runs its script from the same tree (the pool entry point)',
      container: { image: 'samplesource-adapter:0.1.0', command: ['node', 'dist/adapter/pool/main.js'] },
      want: { command: '/usr/bin/node', args: ['--enable-source-maps', '/repo/dist/adapter/pool/main.js'] },
    },
    {
      name: 'a command that is not node keeps the image entrypoint',
      container: { image: 'samplesource-adapter:0.1.0', command: ['/bin/sh', '-c', 'true'] },
      want: { command: '/usr/bin/node', args: ['--enable-source-maps', '/repo/dist/adapter/main.js'] },
    },
    { name: 'an image the agent does not run', container: { image: 'nginx:1' }, want: undefined },
  ])('$name', ({ container, want }) => {
    expect(commandForContainer(container, images)).toEqual(want);
  });
});
