/**
 * The performance targets, declared once (they restate ../shared/PERFORMANCE.md's table):
 * the bench scripts judge their measurements with these, and bench/report.mjs shows them.
 * `min`: the measured ratio must be ≥ it; `max`: the measured value must be < it (latency,
 * ms) or ≤ it (bytes), as `text` says.
 */
export const TARGETS = {
  guardFresh: { text: "≥ 0.95× raw `crypto.verify`, faster than fast-jwt and jose", min: 0.95 },
  guardCached: { text: "≥ fast-jwt's cache (1.00×)", min: 1 },
  denylist100k: { text: "≥ 0.9× of an empty denylist", min: 0.9 },
  denylist1M: { text: "≥ 0.9× of an empty denylist", min: 0.9 },
  denylistBytes: { text: "≤ 100 bytes per entry", max: 100 },
  token: { text: "≥ 3× oidc-provider", min: 3 },
  introspection: { text: "≥ 3× oidc-provider", min: 3 },
  introspectionP99: { text: "p99 < 10 ms at 32 connections", max: 10 },
  sessionVsExpress: { text: "≥ 2× express-session + connect-redis", min: 2 },
  sessionVsFastify: { text: "≥ 0.7× a bare fastify route", min: 0.7 },
  revocationP99: { text: "p99 < 10 ms at every API", max: 10 },
  feedP99: {
    text: "p99 < 50 ms, 1,000 subscribers per instance at 1,000 revocations/s",
    max: 50,
  },
  loginP50: { text: "p50 ≤ one argon2id verify + 5 ms", slackMs: 5 },
  loginThroughput: { text: "≥ 0.9× what the cores' argon2id allows", min: 0.9 },
  loginEld: { text: "event-loop delay p99 < 20 ms under login load", max: 20 },
  postgres: { text: "≥ 0.8× the SQLite figure of the same run", min: 0.8 },
  postgresRedis: { text: "≥ 0.9× the SQLite figure of the same run", min: 0.9 },
  workers: { text: "2 workers on 2 free cores ≥ 1.6× one worker (0.8·N)", min: 1.6 },
  bff: { text: "≥ 0.5× calling the API directly", min: 0.5 },
};

/** `value` meets a `min` target. */
export const atLeast = (target, value) => Number.isFinite(value) && value >= target.min;
/** `value` (a latency) meets a `max` target: strictly below. */
export const below = (target, value) => Number.isFinite(value) && value < target.max;
/** `value` (a size) meets a `max` target: at most. */
export const atMost = (target, value) => Number.isFinite(value) && value <= target.max;
