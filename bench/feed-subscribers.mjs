/**
 * The revocation feed's subscribers for bench/feed.mjs, in a process of their own (so the
 * parent, which sends the revocations, shares no event loop with them). Forked with IPC:
 *
 *   node bench/feed-subscribers.mjs '{"port":…,"authorization":"Basic …","count":1000,"jtis":[…]}'
 *
 * Opens `count` real SSE connections to GET /events/revocations, each on its own socket,
 * and sends `{ type: "ready" }` once every one has had its `synced` event. Each `revoke`
 * event naming one of `jtis` is timed at its arrival (process.hrtime, the machine's
 * monotonic clock, the same in the parent). On `{ cmd: "report", sentMs }` (the send time
 * of each jti, in ms, NaN for those not sent) it answers `{ type: "report", … }` with the
 * delivery latencies' percentiles and the events that never arrived, then exits.
 */
import http from "node:http";

const { port, authorization, count, jtis } = JSON.parse(process.argv[2]);
const index = new Map(jtis.map((jti, i) => [jti, i]));
const m = jtis.length;
/** Arrival time (ms) of jti i at connection c: received[c * m + i]; NaN until it arrives. */
const received = new Float64Array(count * m).fill(Number.NaN);
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const MARK = '"jti":"';

/**
 * The jti indices named in `text` (complete SSE events). Every connection is sent the same
 * batches, so consecutive connections mostly read the same text: it is parsed once and the
 * indices reused for equal text (each connection still times its own arrival).
 */
let lastText = "";
let lastIndices = [];
function indicesIn(text) {
  if (text === lastText) return lastIndices;
  const indices = [];
  for (let k = text.indexOf(MARK); k >= 0; k = text.indexOf(MARK, k + 1)) {
    const from = k + MARK.length;
    const i = index.get(text.slice(from, text.indexOf('"', from)));
    if (i !== undefined) indices.push(i);
  }
  lastText = text;
  lastIndices = indices;
  return indices;
}

let synced = 0;
let closed = 0;
const requests = [];

function subscribe(c) {
  let buffer = "";
  let isSynced = false;
  const req = http.request(
    {
      host: "127.0.0.1",
      port,
      path: "/events/revocations",
      headers: { authorization, accept: "text/event-stream" },
      agent: false,
    },
    (res) => {
      if (res.statusCode !== 200) {
        process.send({ type: "error", message: `connection ${c}: ${res.statusCode}` });
        res.resume();
        return;
      }
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        const at = nowMs();
        buffer = buffer === "" ? chunk : buffer + chunk;
        const end = buffer.lastIndexOf("\n\n");
        if (end < 0) return;
        const complete = end === buffer.length - 2 ? buffer : buffer.slice(0, end + 2);
        buffer = end === buffer.length - 2 ? "" : buffer.slice(end + 2);
        if (!isSynced && complete.includes("event: synced")) {
          isSynced = true;
          synced++;
          if (synced === count) process.send({ type: "ready" });
        }
        const base = c * m;
        for (const i of indicesIn(complete)) {
          if (Number.isNaN(received[base + i])) received[base + i] = at;
        }
      });
      res.on("close", () => {
        closed++;
      });
    },
  );
  req.on("error", (err) => {
    process.send({ type: "error", message: `connection ${c}: ${err.message}` });
  });
  req.end();
  requests.push(req);
}

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

process.on("message", (message) => {
  if (message.cmd !== "report") return;
  const sent = message.sentMs;
  const latencies = [];
  let missing = 0;
  let expected = 0;
  for (let i = 0; i < m; i++) {
    if (!Number.isFinite(sent[i])) continue;
    for (let c = 0; c < count; c++) {
      expected++;
      const at = received[c * m + i];
      if (Number.isNaN(at)) missing++;
      else latencies.push(at - sent[i]);
    }
  }
  const sorted = Float64Array.from(latencies).sort();
  process.send({
    type: "report",
    expected,
    missing,
    closedEarly: closed,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : Number.NaN,
  });
  for (const req of requests) req.destroy();
  process.disconnect();
});

// Connect in waves, so the connect storm itself is not what is measured.
for (let c = 0; c < count; c++) {
  subscribe(c);
  if (c % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 20));
}
