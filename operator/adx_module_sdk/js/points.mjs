// `node --import ./register.mjs points.mjs DIR`: the extension points DIR/src/module.js
// declares, as JSON on stdout (null when its default export is not a Module): what
// adx-module-cli package writes into the manifest.
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Module } from "./index.mjs";

const entry = path.join(process.argv[2], "src", "module.js");
const Kind = (await import(pathToFileURL(entry).href)).default;
const declared = Kind && Kind.prototype instanceof Module ? Kind.extensionPoints() : null;
process.stdout.write(JSON.stringify(declared) + "\n");
