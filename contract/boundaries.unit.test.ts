// The module boundaries of docs/decisions/0007-module-boundaries.md are enforced by the lint;
// this checks that the rule really fires (and stays quiet on allowed imports).
import { ESLint } from 'eslint';

const eslint = new ESLint();

async function restrictedImports(filePath: string, specifier: string): Promise<string[]> {
  const [result] = await eslint.lintText(`export * from '${specifier}';\n`, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('import boundaries', () => {
  it.each([
    ['operator/samplesource/x.ts', '../../adapter/commands.js'],
    ['operator/x.ts', '../adapter/main.js'],
    ['adapter/x.ts', '../operator/samplesource/status.js'],
    ['control/x.ts', '../operator/runtime/workqueue.js'],
    ['control/x.ts', '../adapter/state.js'],
    ['control/x.ts', '../contract/commands.js'],
    ['contract/x.ts', '../control/session.js'],
    ['contract/x.ts', '../operator/runtime/conditions.js'],
  ])('%s may not import %s', async (file, specifier) => {
    const messages = await restrictedImports(file, specifier);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/must not import/);
  });

  it.each([
    ['operator/samplesource/x.ts', '../../contract/commands.js'],
    ['operator/samplesource/x.ts', '../../control/index.js'],
    ['adapter/x.ts', '../contract/identities.js'],
    ['adapter/x.ts', '../control/index.js'],
    ['contract/x.ts', './duration.js'],
  ])('%s may import %s', async (file, specifier) => {
    expect(await restrictedImports(file, specifier)).toEqual([]);
  });
});
