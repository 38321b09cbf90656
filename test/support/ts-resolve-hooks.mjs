// Jest loads an ESM global setup with Node's own loader, not jest's resolver, so the NodeNext-style
// './x.js' imports of our TypeScript sources must be mapped to './x.ts' here (Node 24 strips the types).
// Plain JavaScript so that Node can load it before the mapping exists; imported first by the global setups.
import { registerHooks } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) {
      const candidate = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL);
      if (existsSync(fileURLToPath(candidate))) return nextResolve(candidate.href, context);
    }
    return nextResolve(specifier, context);
  },
});
