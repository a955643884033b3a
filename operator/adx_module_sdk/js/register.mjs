// `node --import <this file> --test tests/`: a module's own tests resolve "adx-module-sdk" as
// the runner does.
import { register } from "node:module";

register("./resolve.mjs", import.meta.url);
