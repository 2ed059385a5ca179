/**
 * A real API process (./api.mjs: node:http + the built tessera/guard) that verifies tokens
 * against a Tessera instance and follows its revocation feed. `status(api, token)` asks
 * it about one bearer token; `stopAllApis()` (afterAll) kills whatever is left.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { childEnv } from "../../support/process.js";

const API_SCRIPT = fileURLToPath(new URL("./api.mjs", import.meta.url));

export interface Api {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

const apis = new Set<ChildProcess>();

/** Starts an API whose guard trusts `issuer`/`audience` and asks `tessera` (a base URL). */
export function startApi(options: {
  issuer: string;
  audience: string;
  tessera: string;
  clientId: string;
  secret: string;
}): Promise<Api> {
  const child = spawn(process.execPath, [API_SCRIPT], {
    env: childEnv({
      API_ISSUER: options.issuer,
      API_AUDIENCE: options.audience,
      API_TESSERA: options.tessera,
      API_CLIENT_ID: options.clientId,
      API_CLIENT_SECRET: options.secret,
    }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  apis.add(child);
  child.once("exit", () => apis.delete(child));
  let out = "";
  let err = "";
  child.stderr?.on("data", (c) => {
    err += c;
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    await new Promise((r) => {
      const t = setTimeout(() => {
        child.kill("SIGKILL");
        r(undefined);
      }, 3000);
      child.once("exit", () => {
        clearTimeout(t);
        r(undefined);
      });
    });
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`api did not start\n${out}\n${err}`)), 15_000);
    child.once("exit", (code) => reject(new Error(`api exited (${code})\n${out}\n${err}`)));
    child.stdout?.on("data", (c) => {
      out += c;
      const m = /api listening on (\d+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve({ url: `http://127.0.0.1:${m[1]}`, child, stop });
      }
    });
  });
}

/** The status the API answers for a bearer token (200, or the guard's refusal). */
export async function status(api: Api, token: string): Promise<number> {
  const res = await fetch(`${api.url}/whoami`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

/** Kills every API process still running (for afterAll). */
export function stopAllApis(): void {
  for (const c of apis) c.kill("SIGKILL");
}
