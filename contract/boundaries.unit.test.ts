// The module boundaries of docs/decisions/0007-module-boundaries.md are enforced by the lint;
// this checks that the rule really fires (and stays quiet on allowed imports).
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

// The synthetic paths below are not files of the TypeScript project, so type-aware parsing (and
// the type-checked rules) is switched off for them; the boundary rules come from eslint.config.js.
const eslint = new ESLint({ overrideConfig: [tseslint.configs.disableTypeChecked] });

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

describe('type-checked lint rules', () => {
  it('refuse a floating promise in a real project file', async () => {
    const typed = new ESLint();
    const source = 'export async function later(): Promise<number> {\n  return 1;\n}\nlater();\n';
    const [result] = await typed.lintText(source, { filePath: 'contract/duration.ts' });
    const rules = (result?.messages ?? []).map((m) => m.ruleId);
    expect(rules).toContain('@typescript-eslint/no-floating-promises');
  });
});
