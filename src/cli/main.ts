#!/usr/bin/env node
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describeFailure } from "./failure.js";
import { runCli } from "./run.js";

/** Entry point of the `tessera` command. */
async function main(): Promise<void> {
  try {
    process.exitCode = await runCli(process.argv.slice(2), {
      env: process.env,
      stdin: process.stdin,
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
    });
  } catch (err) {
    const failure = describeFailure(err);
    process.stderr.write(`${failure.line}\n`);
    process.exitCode = failure.exitCode;
  }
}

const invoked = process.argv[1] !== undefined ? realpathSync(process.argv[1]) : "";
if (invoked === realpathSync(fileURLToPath(import.meta.url))) await main();
