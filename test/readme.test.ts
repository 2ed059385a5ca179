/**
 * The README, checked against the code: its generated configuration table, its error codes,
 * its links, and EVERY fenced code block, run — the main README's and @tessera/guard's
 * (packages/guard/README.md, whose API example runs with the main README's `curl` block).
 *
 * How the blocks run (see test/support/readme-blocks.ts for the info-string attributes):
 * - in a directory of a project where the packed `tessera` and `@tessera/guard` are
 *   installed (test/support/packed-project.ts), beside a real `tessera serve --demo`
 *   (the installed bin) with its default data directory `./.tessera`;
 * - with these substitutions, printed by the test: `4000` → the server's free port,
 *   `3000` → a free port for the example APIs, `<printed password>` → the demo password;
 * - `sh` blocks in order with bash (`set -e -o pipefail -a`), each seeing the variables the
 *   blocks before it set, as in one terminal;
 * - `ts` blocks are type-checked (strict, `module: nodenext`; and `moduleResolution:
 *   bundler`), compiled with the nodenext settings and run; `js` blocks run as they are;
 * - `server=…` blocks are started (they listen on 3000) and every `against=server` block is
 *   run against each of them, its `# …` comments being the expected output;
 * - `norun="why"` blocks are listed with their reason and not run.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configTable, TABLE_END, TABLE_START } from "../src/config/docs.js";
import { ERROR_STATUS } from "../src/errors.js";
import { npmEnv, type PackedProject, packedProject, REPO } from "./support/packed-project.js";
import { type CodeBlock, codeBlocks, expectedOutput } from "./support/readme-blocks.js";

const DOCS = [
  { file: "README.md", slug: "readme" },
  { file: "packages/guard/README.md", slug: "guard-readme" },
];
const readme = readFileSync(join(REPO, "README.md"), "utf8");

interface DocBlock extends CodeBlock {
  /** e.g. README.md:393 */
  where: string;
  /** The file the test writes it to, without extension: e.g. readme-L393 */
  name: string;
}

const blocks: DocBlock[] = DOCS.flatMap(({ file, slug }) =>
  codeBlocks(readFileSync(join(REPO, file), "utf8")).map((b) => ({
    ...b,
    where: `${file}:${b.line}`,
    name: `${slug}-L${b.line}`,
  })),
);

describe("README", () => {
  it("its configuration table is the one generated from the defaults object", () => {
    const start = readme.indexOf(TABLE_START) + TABLE_START.length;
    const end = readme.indexOf(TABLE_END);
    expect(readme.slice(start, end).trim()).toBe(configTable());
  });

  it("the quick start is exactly the two commands", () => {
    const m = /## Quick start\n\n```sh[^\n]*\n([\s\S]*?)```/.exec(readme);
    expect(m?.[1]).toBe("npm install && npm start\nnpm test\n");
  });

  it("lists every error code", () => {
    for (const code of Object.keys(ERROR_STATUS)) {
      if (code === "config_invalid" || code === "store_unavailable") continue;
      expect(readme, code).toContain(`\`${code}\``);
    }
  });

  it("every code block is runnable (sh, ts, js) or says why not (norun)", () => {
    for (const b of blocks) {
      const { where } = b;
      if ("norun" in b.attrs) {
        expect(b.attrs.norun, `${where}: norun needs a reason`).not.toBe("");
        continue;
      }
      expect(["sh", "ts", "js"], `${where}: language "${b.lang}"`).toContain(b.lang);
      if ("server" in b.attrs) expect(["ts", "js"], where).toContain(b.lang);
      if ("against" in b.attrs) {
        expect(b.lang, where).toBe("sh");
        expect(b.attrs.against, where).toBe("server");
      }
    }
    expect(blocks.filter((b) => "server" in b.attrs).length).toBeGreaterThan(0);
  });

  it("every relative link points to a file of the repository", () => {
    for (const { file } of DOCS) {
      const text = readFileSync(join(REPO, file), "utf8");
      for (const m of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
        const target = m[1] as string;
        if (/^[a-z]+:/.test(target)) continue;
        expect(() => readFileSync(join(REPO, dirname(file), target)), target).not.toThrow();
      }
    }
  });
});

// ── Running the blocks ────────────────────────────────────────────────────────────────

const START_MS = 20_000;
const BLOCK_MS = 30_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

interface Started {
  child: ChildProcess;
  output: () => string;
}

function start(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Started {
  const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => {
    out += c;
  });
  child.stderr?.setEncoding("utf8").on("data", (c: string) => {
    out += c;
  });
  return { child, output: () => out };
}

async function stop({ child }: Started): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await gone;
  clearTimeout(timer);
}

async function until(what: string, started: Started, check: () => Promise<boolean>) {
  const deadline = Date.now() + START_MS;
  while (Date.now() < deadline) {
    if (started.child.exitCode !== null) {
      throw new Error(`${what} exited (${started.child.exitCode}):\n${started.output()}`);
    }
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not ready within ${START_MS} ms:\n${started.output()}`);
}

function exec(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number; out: string }>((resolve) => {
    execFile(cmd, args, { cwd, env, encoding: "utf8", timeout: BLOCK_MS }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : Number(err.code ?? 1) || 1, out: `${stdout}${stderr}` }),
    );
  });
}

describe("README code blocks, run where the packed tessera is installed", () => {
  let project: PackedProject;
  let work = "";
  let tesseraPort = 0;
  let apiPort = 0;
  let server: Started | undefined;
  let demoPassword = "";
  /** Variables the sh blocks set so far (as in one terminal). */
  const carried: Record<string, string> = {};

  const substitute = (code: string) =>
    code
      .replace(/\b4000\b/g, String(tesseraPort))
      .replace(/\b3000\b/g, String(apiPort))
      .replaceAll("<printed password>", demoPassword);

  const env = (): NodeJS.ProcessEnv => ({ ...npmEnv(), ...carried });

  beforeAll(async () => {
    project = await packedProject();
    work = mkdtempSync(join(project.dir, "readme-"));
    tesseraPort = await freePort();
    apiPort = await freePort();
    console.info(
      `README blocks run in ${work}; substitutions: 4000 → ${tesseraPort}, 3000 → ${apiPort}, <printed password> → the demo password`,
    );
    const bin = join(project.dir, "node_modules/.bin/tessera");
    server = start(bin, ["serve", "--port", String(tesseraPort), "--demo"], work, npmEnv());
    const s = server;
    await until("tessera serve", s, async () => /Tessera listening on/.test(s.output()));
    demoPassword = /password "([^"]+)"/.exec(s.output())?.[1] ?? "";
    expect(demoPassword).not.toBe("");
  }, 600_000);

  afterAll(async () => {
    if (server !== undefined) await stop(server);
  });

  async function runShell(b: DocBlock): Promise<string> {
    const script = join(work, `${b.name}.sh`);
    const envOut = join(work, `${b.name}.env`);
    // A block run against an example API starts each curl 0.2 s after the previous command,
    // as a person typing would: the README says a revocation reaches the API within
    // milliseconds (p99 17 ms in the bench), which a loaded test machine can stretch past
    // the few ms between two back-to-back processes.
    const paced =
      b.attrs.against === "server"
        ? `trap '[[ "$BASH_COMMAND" != curl* ]] || sleep 0.2' DEBUG\n`
        : "";
    writeFileSync(
      script,
      `set -e -o pipefail -a\n${paced}${substitute(b.code)}\nenv -0 > "$__ENV_OUT"\n`,
    );
    const r = await exec("bash", [script], work, { ...env(), __ENV_OUT: envOut });
    expect(r.code, `${b.where} failed:\n${r.out}`).toBe(0);
    const before = env();
    for (const entry of readFileSync(envOut, "utf8").split("\0")) {
      const eq = entry.indexOf("=");
      if (eq <= 0) continue;
      const [k, v] = [entry.slice(0, eq), entry.slice(eq + 1)];
      if (["_", "PWD", "OLDPWD", "SHLVL", "__ENV_OUT"].includes(k) || before[k] === v) continue;
      carried[k] = v;
    }
    if (b.attrs.contains !== undefined) expect(r.out).toContain(b.attrs.contains);
    return r.out;
  }

  function programFile(b: DocBlock): string {
    return b.attrs.file ?? `${b.name}.${b.lang === "ts" ? "ts" : "mjs"}`;
  }

  /** Writes every ts/js block to its file (ts compiled to out/), once. */
  let compiled: Promise<void> | undefined;
  function compile(): Promise<void> {
    compiled ??= (async () => {
      for (const b of blocks) {
        if ("norun" in b.attrs || (b.lang !== "ts" && b.lang !== "js")) continue;
        writeFileSync(join(work, programFile(b)), substitute(b.code));
      }
      writeFileSync(join(work, "tsconfig.nodenext.json"), JSON.stringify(tsconfig("nodenext")));
      writeFileSync(join(work, "tsconfig.bundler.json"), JSON.stringify(tsconfig("bundler")));
    })();
    return compiled;
  }

  function tsconfig(kind: "nodenext" | "bundler") {
    const strictest = {
      strict: true,
      noUncheckedIndexedAccess: true,
      exactOptionalPropertyTypes: true,
      noImplicitOverride: true,
      noImplicitReturns: true,
      noFallthroughCasesInSwitch: true,
      skipLibCheck: true, // third-party types are not ours to check (hono's need the DOM lib); test/packaging checks ours
      target: "ES2022",
      lib: ["ES2023"],
      types: ["node"],
      verbatimModuleSyntax: true,
    };
    const module =
      kind === "nodenext"
        ? { module: "nodenext", moduleResolution: "nodenext", outDir: "out", rootDir: "." }
        : { module: "esnext", moduleResolution: "bundler", noEmit: true };
    return { compilerOptions: { ...strictest, ...module }, include: ["*.ts"] };
  }

  const tsc = () => join(project.dir, "node_modules/.bin/tsc");

  for (const kind of ["nodenext", "bundler"] as const) {
    it(`every ts block type-checks (strict, ${kind === "nodenext" ? "module: nodenext" : "moduleResolution: bundler"})`, async () => {
      await compile();
      const args = ["-p", `tsconfig.${kind}.json`, "--noEmit"];
      const r = await exec(tsc(), args, work, env());
      expect(r.out).toBe("");
      expect(r.code).toBe(0);
    }, 120_000);
  }

  const skipped = blocks.filter((b) => "norun" in b.attrs);
  const sequence = blocks.filter(
    (b) => !("norun" in b.attrs) && !("server" in b.attrs) && !("against" in b.attrs),
  );
  const servers = blocks.filter((b) => !("norun" in b.attrs) && "server" in b.attrs);
  const againstServer = blocks.filter((b) => !("norun" in b.attrs) && "against" in b.attrs);

  it(`skips ${skipped.length} block(s), each for the reason it gives`, () => {
    const list = skipped.map((b) => `  ${b.where} (${b.lang}): ${b.attrs.norun}`).join("\n");
    console.info(
      `READMEs: ${blocks.length} code blocks; ${blocks.length - skipped.length} run, ${skipped.length} skipped:\n${list}`,
    );
    for (const b of skipped) expect(b.attrs.norun).not.toBe("");
  });

  for (const b of sequence) {
    it(`runs ${b.where} (${b.lang})`, async () => {
      if (b.lang === "sh") {
        await runShell(b);
        return;
      }
      await compile();
      const file = programFile(b);
      const entry = b.lang === "ts" ? await emitted(file) : file;
      const r = await exec(process.execPath, [entry], work, env());
      expect(r.code, r.out).toBe(0);
    }, 60_000);
  }

  /** The compiled file of a ts block (all compiled once, with the nodenext settings). */
  let emit: Promise<{ code: number; out: string }> | undefined;
  async function emitted(file: string): Promise<string> {
    emit ??= exec(tsc(), ["-p", "tsconfig.nodenext.json", "--noCheck"], work, env());
    const r = await emit;
    expect(r.code, r.out).toBe(0);
    return join("out", file.replace(/\.ts$/, ".js"));
  }

  for (const b of servers) {
    it(`runs the ${b.attrs.server} API of ${b.where}, then ${againstServer.length} block(s) against it`, async () => {
      await compile();
      const file = programFile(b);
      const entry = b.lang === "ts" ? await emitted(file) : file;
      const api = start(process.execPath, [entry], work, env());
      try {
        await until(`the ${b.attrs.server} API`, api, () => portOpen(apiPort));
        for (const a of againstServer) {
          const out = await runShell(a);
          if (a.attrs.output === "comments") {
            expect(out.trim().split("\n"), `${a.where} against ${b.where}`).toEqual(
              expectedOutput(a.code),
            );
          }
        }
      } finally {
        await stop(api);
      }
      expect(api.output(), "the API wrote nothing unexpected").not.toMatch(/Error|warn/i);
    }, 90_000);
  }
});
