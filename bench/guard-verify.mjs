// Verified JWTs per second: tessera/guard beside raw node:crypto, jose and fast-jwt.
//
//   npm run build && node bench/guard-verify.mjs
//
// Same tokens, same keys, same process, one call in flight. For each algorithm (EdDSA,
// ES256) the contenders run in interleaved rounds; in every round each contender is
// measured right after a fresh measurement of raw `crypto.verify` (the ceiling: the
// signature check alone, buffers pre-decoded), and the reported ratio is the median of
// those paired ratios — shared machines drift by more than the differences measured here,
// and pairing cancels most of it. ops/s are medians too.
// Env: GUARD_BENCH_MS (per measurement, default 150), GUARD_BENCH_ROUNDS (default 21).
import { generateKeyPairSync, randomUUID, sign, verify } from "node:crypto";
import os from "node:os";
import { createVerifier } from "fast-jwt";
import { jwtVerify } from "jose";
import { createGuard } from "../dist/guard/index.js";
import { saveResults, startResults } from "./results.mjs";
import { atLeast, TARGETS } from "./targets.mjs";

const MS = Number(process.env.GUARD_BENCH_MS ?? 150);
const ROUNDS = Number(process.env.GUARD_BENCH_ROUNDS ?? 21);
const TOKENS = 512;
const ISSUER = "https://auth.example.test";
const AUDIENCE = "orders-api";

function keyPair(alg) {
  return alg === "EdDSA"
    ? generateKeyPairSync("ed25519")
    : generateKeyPairSync("ec", { namedCurve: "P-256" });
}

function mintTokens(alg, kid, privateKey) {
  const now = Math.floor(Date.now() / 1000);
  const h = Buffer.from(JSON.stringify({ alg, typ: "at+jwt", kid })).toString("base64url");
  const out = [];
  for (let i = 0; i < TOKENS; i++) {
    const claims = {
      iss: ISSUER,
      sub: `user-${i}`,
      aud: AUDIENCE,
      exp: now + 3600,
      iat: now,
      jti: randomUUID(),
      client_id: "bench-client",
      scope: "orders:read orders:write",
    };
    const input = `${h}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
    const sig =
      alg === "EdDSA"
        ? sign(null, Buffer.from(input), privateKey)
        : sign("sha256", Buffer.from(input), { key: privateKey, dsaEncoding: "ieee-p1363" });
    out.push(`${input}.${sig.toString("base64url")}`);
  }
  return out;
}

const FLOOR = "floor: raw crypto.verify + the token's decoding";

/**
 * The least any JWT verifier does beyond the raw signature check, as one contender: find the
 * dots, copy the signing input and decode the signature into a reused buffer, verify, then
 * decode and JSON.parse the payload and read `exp`. No header, key, claim or scope checks:
 * what the guard adds over this row is its own work.
 */
function floorVerifier(tokens, digest, rawKey) {
  const scratch = Buffer.alloc(4096);
  return (i) => {
    const t = tokens[i % tokens.length];
    const d1 = t.indexOf(".");
    const d2 = t.lastIndexOf(".");
    scratch.write(t, 0, d2, "latin1");
    const sig = scratch.subarray(d2, d2 + scratch.write(t.slice(d2 + 1), d2, "base64url"));
    if (!verify(digest, scratch.subarray(0, d2), rawKey, sig)) throw new Error("floor: refused");
    const n = scratch.write(t.slice(d1 + 1, d2), 0, "base64url");
    return JSON.parse(scratch.toString("utf8", 0, n)).exp;
  };
}

/** Runs `fn(i)` (sync or async) for ~MS ms; returns ops/s. */
async function measure(fn, isAsync) {
  let ops = 0;
  const start = process.hrtime.bigint();
  const limit = start + BigInt(MS) * 1_000_000n;
  let now = start;
  if (isAsync) {
    while (now < limit) {
      for (let k = 0; k < 32; k++) await fn(ops++);
      now = process.hrtime.bigint();
    }
  } else {
    while (now < limit) {
      for (let k = 0; k < 32; k++) fn(ops++);
      now = process.hrtime.bigint();
    }
  }
  return ops / (Number(now - start) / 1e9);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function benchAlgorithm(alg) {
  const kid = `${alg.toLowerCase()}-1`;
  const { privateKey, publicKey } = keyPair(alg);
  const jwk = { ...publicKey.export({ format: "jwk" }), kid, alg, use: "sig" };
  const pem = publicKey.export({ format: "pem", type: "spki" });
  const tokens = mintTokens(alg, kid, privateKey);
  const n = tokens.length;
  const inputs = tokens.map((t) => ({ authorization: `Bearer ${t}` }));

  // Raw ceiling: the signature check alone, on pre-decoded buffers.
  const raw = tokens.map((t) => {
    const i = t.lastIndexOf(".");
    return [Buffer.from(t.slice(0, i)), Buffer.from(t.slice(i + 1), "base64url")];
  });
  const rawKey = alg === "EdDSA" ? publicKey : { key: publicKey, dsaEncoding: "ieee-p1363" };
  const digest = alg === "EdDSA" ? null : "sha256";

  const common = { issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [jwk] } };
  const fresh = createGuard({ ...common, cacheSize: 0 });
  const cached = createGuard({ ...common, cacheSize: 10_000 });
  // A denylist as the server will keep it: (iss -> set of jti), consulted on every hit.
  const denylist = (entries) => {
    const byIssuer = new Map([[ISSUER, new Set(entries)]]);
    return { isRevoked: (jti, iss) => byIssuer.get(iss)?.has(jti) === true };
  };
  const cachedDeny = createGuard({
    ...common,
    cacheSize: 10_000,
    denylist: denylist(Array.from({ length: 100_000 }, () => randomUUID())),
  });
  const cachedEmptyDeny = createGuard({ ...common, cacheSize: 10_000, denylist: denylist([]) });
  for (const g of [cached, cachedDeny, cachedEmptyDeny]) for (const i of inputs) g.verifySync(i);

  const fjOptions = {
    key: pem,
    algorithms: [alg],
    allowedIss: ISSUER,
    allowedAud: AUDIENCE,
    requiredClaims: ["sub", "exp", "iat", "jti", "client_id"],
    checkTyp: "at+jwt",
  };
  const fj = createVerifier(fjOptions);
  const fjCache = createVerifier({ ...fjOptions, cache: 10_000 });
  for (const t of tokens) fjCache(t);

  const joseOptions = { issuer: ISSUER, audience: AUDIENCE, typ: "at+jwt", algorithms: [alg] };

  // Sanity: everyone accepts every token.
  for (const t of tokens.slice(0, 4)) {
    fresh.verifySync({ authorization: `Bearer ${t}` });
    await jwtVerify(t, publicKey, joseOptions);
    fj(t);
  }

  const contenders = [
    ["raw crypto.verify (ceiling)", (i) => verify(digest, raw[i % n][0], rawKey, raw[i % n][1])],
    [FLOOR, floorVerifier(tokens, digest, rawKey)],
    ["guard fresh, verifySync", (i) => fresh.verifySync(inputs[i % n])],
    ["guard fresh, await verify", (i) => fresh.verify(inputs[i % n]), true],
    ["jose jwtVerify (KeyObject)", (i) => jwtVerify(tokens[i % n], publicKey, joseOptions), true],
    ["fast-jwt createVerifier", (i) => fj(tokens[i % n])],
    ["guard cached, verifySync", (i) => cached.verifySync(inputs[i % n])],
    ["guard cached, await verify", (i) => cached.verify(inputs[i % n]), true],
    ["guard cached + empty denylist", (i) => cachedEmptyDeny.verifySync(inputs[i % n])],
    ["guard cached + 100k denylist", (i) => cachedDeny.verifySync(inputs[i % n])],
    ["fast-jwt with cache", (i) => fjCache(tokens[i % n])],
  ];
  const samples = contenders.map(() => []);
  const ratios = contenders.map(() => []);
  const [, rawFn] = contenders[0];
  // Warm-up, then interleaved rounds, each contender paired with a raw measurement taken
  // right before it in even rounds and right after it in odd ones (so a drift of the
  // machine within a pair favours neither side).
  for (const [, fn, isAsync] of contenders) await measure(fn, isAsync);
  for (let r = 0; r < ROUNDS; r++) {
    for (let c = 0; c < contenders.length; c++) {
      const [, fn, isAsync] = contenders[c];
      const rawFirst = r % 2 === 0;
      let base = c === 0 || !rawFirst ? undefined : await measure(rawFn, false);
      const ops = await measure(fn, isAsync);
      if (c !== 0 && !rawFirst) base = await measure(rawFn, false);
      samples[c].push(ops);
      ratios[c].push(base === undefined ? 1 : ops / base);
    }
  }
  return contenders.map(([name], c) => ({
    name,
    ops: median(samples[c]),
    ratio: median(ratios[c]),
  }));
}

/** The fresh-token and cached-token paths of one algorithm, for bench/report.mjs. */
function sectionsOf(alg, rows) {
  const by = (name) => rows.find((r) => r.name === name);
  const fj = by("fast-jwt createVerifier").ops;
  const jose = by("jose jwtVerify (KeyObject)").ops;
  const fjCache = by("fast-jwt with cache").ops;
  const fresh = by("guard fresh, verifySync");
  const freshRows = [
    "guard fresh, verifySync",
    "guard fresh, await verify",
    "raw crypto.verify (ceiling)",
    FLOOR,
    "fast-jwt createVerifier",
    "jose jwtVerify (KeyObject)",
  ].map((name) => {
    const r = by(name);
    const tessera = name.startsWith("guard");
    return {
      label: tessera ? `tessera/guard ${name.slice(6)}` : name,
      value: r.ops,
      tessera: tessera || undefined,
      ...(name === "raw crypto.verify (ceiling)"
        ? {}
        : { ratio: { value: r.ratio, vs: "raw crypto.verify (paired rounds)" } }),
      ...(name === "guard fresh, verifySync"
        ? { target: TARGETS.guardFresh.text, met: atLeast(TARGETS.guardFresh, r.ratio) }
        : {}),
    };
  });
  const cachedRows = [
    "guard cached, verifySync",
    "guard cached, await verify",
    "guard cached + empty denylist",
    "guard cached + 100k denylist",
    "fast-jwt with cache",
  ].map((name) => {
    const r = by(name);
    const tessera = name.startsWith("guard");
    return {
      label: tessera ? `tessera/guard ${name.slice(6)}` : name,
      value: r.ops,
      tessera: tessera || undefined,
      ...(tessera ? { ratio: { value: r.ops / fjCache, vs: "fast-jwt with cache" } } : {}),
      ...(name === "guard cached, verifySync"
        ? { target: TARGETS.guardCached.text, met: atLeast(TARGETS.guardCached, r.ops / fjCache) }
        : {}),
    };
  });
  return [
    {
      id: `guard-fresh-${alg.toLowerCase()}`,
      title: `Guard: verify a fresh JWT (${alg})`,
      metric: "verifies/s",
      rows: freshRows,
      checks: [
        {
          what: "tessera/guard verifySync / fast-jwt",
          measured: `${(fresh.ops / fj).toFixed(2)}×`,
          target: "faster than fast-jwt (> 1×)",
          met: fresh.ops > fj,
        },
        {
          what: "tessera/guard verifySync / jose",
          measured: `${(fresh.ops / jose).toFixed(2)}×`,
          target: "faster than jose (> 1×)",
          met: fresh.ops > jose,
        },
        {
          what: "tessera/guard verifySync / the floor row (paired ratios to raw, divided)",
          measured: `${(fresh.ratio / by(FLOOR).ratio).toFixed(3)}×`,
          target: "– (what the guard's own checks cost)",
          met: undefined,
        },
      ],
      notes: `One process, one call in flight; median of ${ROUNDS} interleaved rounds × ${MS} ms; each ratio to raw \`crypto.verify\` is the median of per-round paired ratios (the raw measurement right before the contender's in even rounds, right after it in odd ones). ${TOKENS} distinct tokens in turn (no cache). The floor row is the least any JWT verifier does beyond the raw check (signing input and signature decoded into a reused buffer, payload JSON.parse'd): its own ratio is how much of the target's 5% the token's decoding alone takes on this algorithm.`,
    },
    {
      id: `guard-cached-${alg.toLowerCase()}`,
      title: `Guard: verify a token seen before (${alg})`,
      metric: "verifies/s",
      rows: cachedRows,
      notes: `Same process and rounds; the guard still checks \`exp\` and the denylist on every hit. The 100k-denylist row is a plain Set here; bench/revocation.mjs measures denylists fed by the revocation feed.`,
    },
  ];
}

const fmt = (x) => Math.round(x).toLocaleString("en-US");
const record = startResults("guard-verify", ["jose", "fast-jwt"]);
const sections = [];
const lines = [];
lines.push(
  `Node ${process.version}, ${os.cpus()[0]?.model ?? "cpu"} x${os.cpus().length}; median of ${ROUNDS} rounds x ${MS} ms, one call in flight.`,
  "",
  "| alg | contender | ops/s | vs raw verify (paired) | vs fast-jwt (same path) |",
  "|---|---|---:|---:|---:|",
);
for (const alg of ["EdDSA", "ES256"]) {
  const rows = await benchAlgorithm(alg);
  sections.push(...sectionsOf(alg, rows));
  const fjFresh = rows.find((r) => r.name === "fast-jwt createVerifier").ops;
  const fjCached = rows.find((r) => r.name === "fast-jwt with cache").ops;
  for (const { name, ops, ratio } of rows) {
    const peer = name.includes("cache") ? fjCached : fjFresh;
    const vsPeer =
      name.startsWith("raw") || name.startsWith("jose") ? "" : `${(ops / peer).toFixed(2)}×`;
    lines.push(`| ${alg} | ${name} | ${fmt(ops)} | ${ratio.toFixed(3)}× | ${vsPeer} |`);
  }
}
console.log(lines.join("\n"));
saveResults(record, sections);
