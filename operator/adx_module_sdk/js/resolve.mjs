// Module resolution hook: `import ... from "adx-module-sdk"` in a module's code is this SDK
// (a package carries no node_modules for it). Registered by process.mjs and register.mjs.
const SDK = new URL("./index.mjs", import.meta.url).href;

export async function resolve(specifier, context, next) {
  if (specifier === "adx-module-sdk") return { url: SDK, shortCircuit: true };
  return next(specifier, context);
}
