#!/usr/bin/env node
// Entry point of the `cas` command: runs the compiled CLI from dist/.
import { existsSync } from "node:fs";

const main = new URL("../dist/src/cli/main.js", import.meta.url);
if (!existsSync(main)) {
  process.stderr.write("cas: the node is not built yet: run `npm run build` (or `npm start`, which builds first)\n");
  process.exit(1);
}
const { main: run } = await import(main.href);
process.exitCode = await run(process.argv.slice(2));
