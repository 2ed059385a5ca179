/**
 * The soak run's HTTP client: keep-alive connections to 127.0.0.1, every request bounded
 * by a timeout (a hang is a finding, not a stuck run), and revocation-feed subscribers
 * (GET /events/revocations) that stay connected for a while and then hang up.
 */
import http from "node:http";

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const TIMEOUT_MS = 15_000;

export function closeAgent() {
  agent.destroy();
}

/** One request; `{ status, headers, body }`, or throws on a network error or timeout. */
export function request(port, method, path, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (body !== undefined) h["content-length"] = String(Buffer.byteLength(body));
    const req = http.request({ host: "127.0.0.1", port, method, path, headers: h, agent });
    req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error(`timeout after ${TIMEOUT_MS} ms`)));
    req.on("response", (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

export const json = (text) => {
  try {
    return text === "" ? {} : JSON.parse(text);
  } catch {
    return {};
  }
};

const FORM = "application/x-www-form-urlencoded";

/** A form POST with client authentication (the OAuth endpoints). */
export async function oauthPost(port, path, auth, params) {
  const res = await request(port, "POST", path, {
    headers: { authorization: auth, "content-type": FORM },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, body: json(res.body), headers: res.headers };
}

/**
 * A revocation-feed subscriber on its own connection: resolves once the stream answers
 * (its status), counts the events it reads, and `close()` hangs up.
 */
export function subscribe(port, auth) {
  const sub = { status: 0, events: 0, error: undefined, closed: false };
  const req = http.request({
    host: "127.0.0.1",
    port,
    method: "GET",
    path: "/events/revocations",
    headers: { authorization: auth, accept: "text/event-stream" },
    agent: false,
  });
  sub.close = () => {
    sub.closed = true;
    req.destroy();
  };
  sub.ready = new Promise((resolve) => {
    req.setTimeout(TIMEOUT_MS, () => {
      if (sub.status === 0) req.destroy(new Error("no answer"));
    });
    req.on("response", (res) => {
      sub.status = res.statusCode ?? 0;
      req.setTimeout(0);
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        sub.events += (chunk.match(/^event: /gm) ?? []).length;
      });
      res.on("error", () => {});
      resolve(sub);
    });
    req.on("error", (err) => {
      if (!sub.closed) sub.error = err.message;
      resolve(sub);
    });
    req.end();
  });
  return sub;
}
