// Lets Node run the TypeScript sources directly (tests spawn the adapter this way; humans may too):
//   node --experimental-transform-types --import ./adapter/ts-hooks.mjs adapter/main.ts
// The sources import './x.js' (NodeNext style); when no such file exists, resolve './x.ts'.
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context);
    } catch (err) {
      if (/^\.{1,2}\//.test(specifier) && specifier.endsWith('.js')) {
        return nextResolve(`${specifier.slice(0, -3)}.ts`, context);
      }
      throw err;
    }
  },
});
