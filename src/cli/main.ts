#!/usr/bin/env node
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { isTesseraError } from "../errors.js";
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
    if (isTesseraError(err)) {
      process.stderr.write(`tessera: ${err.message} (${err.code})\n`);
      const config = err.code === "config_invalid" || err.code === "tls_invalid";
      process.exitCode = config || err.status < 500 ? 2 : 1;
      return;
    }
    process.stderr.write(`tessera: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}

const invoked = process.argv[1] !== undefined ? realpathSync(process.argv[1]) : "";
if (invoked === realpathSync(fileURLToPath(import.meta.url))) await main();
