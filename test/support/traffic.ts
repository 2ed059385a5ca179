/**
 * A small traffic driver for the fault tests. Each actor is one user doing, in a loop,
 * what a real one does: log in, check the session, run the code flow (authorize + code
 * exchange), refresh, have a resource server introspect the access token, revoke a token,
 * and change the password or log out. Actors run side by side; each request goes to the
 * next live instance in turn.
 *
 * Every (request, answer) is recorded and classified on the spot against what the actor
 * knows for certain:
 * - `ok`: the answer a healthy server gives;
 * - `unavailable`: 503 with `store_unavailable` (OAuth: `temporarily_unavailable`) and a
 *   Retry-After — allowed while a part is down. A write answered so may or may not have
 *   happened: the actor stops relying on what it would have changed;
 * - `no_answer`: the connection failed — only allowed from an instance that was killed;
 * - `wrong`: anything else: a 500, a dead credential accepted, a live one refused.
 *
 * Every acknowledged (2xx) write is kept in `Ledger`, so the test can check each one
 * after the fault: sessions ended, tokens revoked, passwords changed.
 */
import { createHash, randomBytes } from "node:crypto";
import { AUDIENCE, PASSWORD, REDIRECT } from "./faults.js";

export type AnswerClass = "ok" | "unavailable" | "no_answer" | "wrong";

export interface Exchange {
  op: string;
  instance: number;
  status: number | "error";
  body: unknown;
  cls: AnswerClass;
  why?: string;
  at: number;
}

export interface Ledger {
  /** Sessions whose logout (or password change) was acknowledged. */
  endedSessions: string[];
  /** Access tokens whose revocation (or the user's cutoff) was acknowledged. */
  revokedAccess: string[];
  /** Refresh tokens whose revocation (or the user's cutoff) was acknowledged. */
  revokedRefresh: string[];
  /** Each user's passwords: the last acknowledged one, plus any unacknowledged after it. */
  passwords: Map<string, string[]>;
  /** Sessions the actors hold that nothing has ended (certainly). */
  liveSessions: Map<string, string>;
}

interface Answer {
  status: number | "error";
  body: unknown;
  headers: Headers | undefined;
}

export interface Target {
  /** Base URLs of the instances to send to (a killed one is dropped by the test). */
  live(): { index: number; url: string }[];
}

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

/** A 503 that says which store is down, and when to retry. `page`: an HTML error page. */
function isUnavailable(a: Answer, oauth: boolean | "page"): boolean {
  if (a.status !== 503) return false;
  if (oauth === "page") return typeof a.body === "string" && a.body.includes("store_unavailable");
  const error = (a.body as { error?: unknown } | undefined)?.error;
  const expected = oauth ? "temporarily_unavailable" : "store_unavailable";
  return error === expected && a.headers?.get("retry-after") !== null;
}

export class Traffic {
  readonly log: Exchange[] = [];
  readonly ledger: Ledger = {
    endedSessions: [],
    revokedAccess: [],
    revokedRefresh: [],
    passwords: new Map(),
    liveSessions: new Map(),
  };
  private turn = 0;
  private stopped = false;
  private running: Promise<void>[] = [];
  /** Instances that were killed: a failed connection to one is not a wrong answer. */
  readonly killed = new Set<number>();

  constructor(
    private readonly target: Target,
    private readonly secrets: Record<string, string>,
  ) {}

  start(users: string[]): void {
    for (const u of users) {
      this.ledger.passwords.set(u, [PASSWORD]);
      this.running.push(this.actor(u));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.running);
  }

  wrong(): Exchange[] {
    return this.log.filter((e) => e.cls === "wrong");
  }

  count(cls: AnswerClass, since = 0): number {
    return this.log.filter((e) => e.cls === cls && e.at >= since).length;
  }

  /** Counts per (request, class, status), for a failure message or a look by hand. */
  summary(): Record<string, number> {
    const by: Record<string, number> = {};
    for (const e of this.log) {
      const key = `${e.op} ${e.cls} ${e.status}`;
      by[key] = (by[key] ?? 0) + 1;
    }
    return by;
  }

  /** How many kinds of request got an answer of this class since `since`. */
  opsMet(cls: AnswerClass, since = 0): number {
    return new Set(this.log.filter((e) => e.cls === cls && e.at >= since).map((e) => e.op)).size;
  }

  // ── one request ──

  private pick(): { index: number; url: string } {
    const live = this.target.live();
    const t = live[this.turn++ % live.length];
    if (t === undefined) throw new Error("no live instance");
    return t;
  }

  private async send(path: string, init: RequestInit): Promise<Answer & { instance: number }> {
    const { index, url } = this.pick();
    try {
      const res = await fetch(new URL(path, url), {
        ...init,
        redirect: "manual",
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = text === "" ? undefined : JSON.parse(text);
      } catch {}
      return { status: res.status, body, headers: res.headers, instance: index };
    } catch (err) {
      return { status: "error", body: String(err), headers: undefined, instance: index };
    }
  }

  /**
   * Records an answer. `expect(a)` says whether it is the right one; an answer that is
   * not is `unavailable` if it is a well-formed 503, `no_answer` for a killed instance's
   * failed connection, `wrong` otherwise. Returns the class.
   */
  private record(
    op: string,
    a: Answer & { instance: number },
    expected: (a: Answer) => boolean,
    oauth: boolean | "page" = false,
  ): AnswerClass {
    let cls: AnswerClass;
    if (expected(a)) cls = "ok";
    else if (isUnavailable(a, oauth)) cls = "unavailable";
    else if (a.status === "error" && this.killed.has(a.instance)) cls = "no_answer";
    else cls = "wrong";
    this.log.push({
      op,
      instance: a.instance,
      status: a.status,
      body: a.body,
      cls,
      at: performance.now(),
    });
    return cls;
  }

  private json(path: string, body: unknown, session?: string) {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (session !== undefined) headers.cookie = `__Host-session=${session}`;
    return this.send(path, { method: "POST", headers, body: JSON.stringify(body) });
  }

  private form(path: string, clientId: string, body: Record<string, string>) {
    return this.send(path, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: basic(clientId, this.secrets[clientId] as string),
      },
      body: new URLSearchParams(body).toString(),
    });
  }

  // ── checks any test may run against one instance ──

  async sessionStatus(url: string, session: string): Promise<number> {
    const res = await fetch(new URL("/session", url), {
      headers: { cookie: `__Host-session=${session}` },
    });
    await res.arrayBuffer();
    return res.status;
  }

  async loginStatus(url: string, username: string, password: string): Promise<number> {
    const res = await fetch(new URL("/login", url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username, password }),
    });
    await res.arrayBuffer();
    return res.status;
  }

  async introspect(url: string, token: string): Promise<unknown> {
    const res = await fetch(new URL("/oauth/introspect", url), {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: basic("rs", this.secrets.rs as string),
      },
      body: new URLSearchParams({ token }).toString(),
    });
    return { status: res.status, body: await res.json() };
  }

  async refreshStatus(url: string, token: string): Promise<unknown> {
    const res = await fetch(new URL("/oauth/token", url), {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: basic("app", this.secrets.app as string),
      },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: token }).toString(),
    });
    return { status: res.status, body: await res.json() };
  }

  // ── one actor ──

  private async actor(user: string): Promise<void> {
    let session: string | undefined;
    let cycle = 0;
    // Tokens of this user that nothing has ended (certainly), for the cutoff.
    let access: string[] = [];
    let refresh: string[] = [];
    while (!this.stopped) {
      cycle++;
      if (session === undefined) {
        session = await this.login(user);
        if (session === undefined) {
          await pause();
          continue;
        }
        this.ledger.liveSessions.set(user, session);
      }
      const s = session;
      const check = await this.send("/session", {
        headers: { cookie: `__Host-session=${s}` },
      });
      this.record("session check", check, (a) => a.status === 200);

      const tokens = await this.codeFlow(s);
      if (tokens !== undefined) {
        access.push(tokens.access_token);
        refresh.push(tokens.refresh_token);
        const refreshed = await this.form("/oauth/token", "app", {
          grant_type: "refresh_token",
          refresh_token: tokens.refresh_token,
        });
        const cls = this.record("refresh", refreshed, (a) => a.status === 200, true);
        refresh = refresh.filter((t) => t !== tokens.refresh_token);
        if (cls === "ok") {
          const next = refreshed.body as { access_token: string; refresh_token: string };
          access.push(next.access_token);
          refresh.push(next.refresh_token);
          // The consumed one is dead now; presenting it later would revoke the family.
        }
        const latest = access[access.length - 1] as string;
        const seen = await this.form("/oauth/introspect", "rs", { token: latest });
        this.record(
          "introspect live",
          seen,
          (a) => a.status === 200 && (a.body as { active?: boolean }).active === true,
          true,
        );
        // Revoke one: an access token on odd cycles, a refresh token on even ones.
        const victim = cycle % 2 === 1 ? access.pop() : refresh.pop();
        if (victim !== undefined) {
          const revoked = await this.form("/oauth/revoke", "app", { token: victim });
          if (this.record("revoke", revoked, (a) => a.status === 200, true) === "ok") {
            if (cycle % 2 === 1) this.ledger.revokedAccess.push(victim);
            else this.ledger.revokedRefresh.push(victim);
          }
          if (cycle % 2 === 1) {
            const dead = await this.form("/oauth/introspect", "rs", { token: victim });
            this.record(
              "introspect revoked",
              dead,
              (a) =>
                a.status === 200
                  ? (a.body as { active?: boolean }).active === false ||
                    !this.ledger.revokedAccess.includes(victim)
                  : false,
              true,
            );
          }
        }
      }

      if (cycle % 3 === 0) {
        const pws = this.ledger.passwords.get(user) as string[];
        const current = pws[pws.length - 1] as string;
        const next = `${PASSWORD}-${user}-${cycle}`;
        const changed = await this.json(
          "/password",
          { currentPassword: current, newPassword: next },
          s,
        );
        const cls = this.record("password change", changed, (a) => a.status === 200);
        if (cls === "ok") {
          this.ledger.passwords.set(user, [next]);
          this.ledger.endedSessions.push(s);
          this.ledger.revokedAccess.push(...access);
          this.ledger.revokedRefresh.push(...refresh);
          access = [];
          refresh = [];
          const fresh = /__Host-session=([^;]*)/.exec(changed.headers?.get("set-cookie") ?? "");
          session = fresh?.[1];
        } else {
          // Maybe changed, maybe not: either password may be the one now.
          if (!pws.includes(next)) pws.push(next);
          session = undefined;
        }
      } else {
        const out = await this.json("/logout", {}, s);
        if (this.record("logout", out, (a) => a.status === 204 || a.status === 200) === "ok") {
          this.ledger.endedSessions.push(s);
        }
        session = undefined;
      }
      if (session === undefined) this.ledger.liveSessions.delete(user);
      else this.ledger.liveSessions.set(user, session);
    }
  }

  /** Logs in with the password that is certainly current, or any of the uncertain ones. */
  private async login(user: string): Promise<string | undefined> {
    const pws = this.ledger.passwords.get(user) as string[];
    for (const [i, password] of [...pws].reverse().entries()) {
      const res = await this.json("/login", { username: user, password });
      const uncertain = pws.length > 1;
      const cls = this.record(
        "login",
        res,
        (a) => a.status === 200 || (uncertain && a.status === 401 && i < pws.length - 1),
      );
      if (cls !== "ok" || res.status !== 200) continue;
      // This one works: it is the current password.
      this.ledger.passwords.set(user, [password]);
      const m = /__Host-session=([^;]*)/.exec(res.headers?.get("set-cookie") ?? "");
      return m?.[1];
    }
    return undefined;
  }

  private async codeFlow(
    session: string,
  ): Promise<{ access_token: string; refresh_token: string } | undefined> {
    const verifier = randomBytes(32).toString("base64url");
    const query = new URLSearchParams({
      response_type: "code",
      client_id: "app",
      redirect_uri: REDIRECT,
      scope: "read",
      state: "s",
      code_challenge: createHash("sha256").update(verifier).digest("base64url"),
      code_challenge_method: "S256",
    });
    const auth = await this.send(`/oauth/authorize?${query}`, {
      headers: { cookie: `__Host-session=${session}` },
    });
    const location = auth.headers?.get("location") ?? "";
    const code = location.startsWith(REDIRECT) ? new URL(location).searchParams.get("code") : null;
    const cls = this.record("authorize", auth, (a) => a.status === 303 && code !== null, "page");
    if (cls !== "ok" || code === null) return undefined;
    const exchanged = await this.form("/oauth/token", "app", {
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
    });
    if (this.record("code exchange", exchanged, (a) => a.status === 200, true) !== "ok") {
      return undefined;
    }
    return exchanged.body as { access_token: string; refresh_token: string };
  }
}

function pause(): Promise<void> {
  return new Promise((r) => setTimeout(r, 20));
}

export { AUDIENCE };

/**
 * After the fault: every acknowledged write holds on every instance, and at the guard.
 * Returns a list of violations (empty when all hold), so a test shows all of them at once.
 * `apiStatus` asks the guard's API about a bearer token; the guard learns revocations
 * through the feed, so each is polled (bounded) until refused — a token that stays
 * accepted is a violation.
 */
export async function verifyLedger(
  traffic: Traffic,
  urls: readonly string[],
  apiStatus: (token: string) => Promise<number>,
): Promise<string[]> {
  const bad: string[] = [];
  const { ledger } = traffic;
  for (const url of urls) {
    for (const s of ledger.endedSessions) {
      const st = await traffic.sessionStatus(url, s);
      if (st !== 401) bad.push(`${url}: an ended session answered ${st}`);
    }
    for (const [user, s] of ledger.liveSessions) {
      const st = await traffic.sessionStatus(url, s);
      if (st !== 200) bad.push(`${url}: ${user}'s live session answered ${st}`);
    }
    for (const t of ledger.revokedAccess) {
      const r = (await traffic.introspect(url, t)) as { status: number; body: unknown };
      if (r.status !== 200 || JSON.stringify(r.body) !== '{"active":false}') {
        bad.push(
          `${url}: a revoked access token introspects ${r.status} ${JSON.stringify(r.body)}`,
        );
      }
    }
    for (const [user, pws] of ledger.passwords) {
      if (pws.length !== 1) continue; // a change answered 503: either may be current
      const st = await traffic.loginStatus(url, user, pws[0] as string);
      if (st !== 200) bad.push(`${url}: ${user}'s acknowledged password answered ${st}`);
    }
    for (const t of ledger.revokedRefresh) {
      const r = (await traffic.refreshStatus(url, t)) as { status: number; body: unknown };
      if (r.status !== 400 || (r.body as { error?: string }).error !== "invalid_grant") {
        bad.push(`${url}: a revoked refresh token refreshed: ${r.status}`);
      }
    }
  }
  for (const t of ledger.revokedAccess) {
    const deadline = performance.now() + 10_000;
    let st = await apiStatus(t);
    while (st !== 401 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      st = await apiStatus(t);
    }
    if (st !== 401) bad.push(`the guard answers ${st} for a revoked access token`);
  }
  return bad;
}

/** One line per wrong answer, for an assertion message. */
export function describeWrong(
  traffic: Traffic,
  servers: readonly { stdout(): string; stderr(): string }[] = [],
): string {
  if (process.env.TESSERA_FAULTS_SUMMARY === "1") console.log(traffic.summary());
  const wrong = traffic.wrong();
  if (wrong.length === 0) return "";
  const lines = wrong
    .slice(0, 20)
    .map((e) => `${e.op} @${e.instance}: ${e.status} ${JSON.stringify(e.body).slice(0, 200)}`);
  // What the instances that answered wrongly said last (a crash leaves its stack there).
  for (const i of new Set(wrong.map((e) => e.instance))) {
    const s = servers[i];
    if (s !== undefined) lines.push(`instance ${i} stderr:\n${s.stderr().slice(-3000)}`);
  }
  return lines.join("\n");
}

/**
 * The feed works now: a fresh token from `mintAt` is accepted by the guard, revoked at
 * `revokeAt`, and then refused by the guard (bounded polls). Returns what went wrong, or
 * undefined. Uses the `svc` client (client_credentials, a JWT for AUDIENCE).
 */
export async function revocationReachesGuard(
  secrets: Record<string, string>,
  mintAt: string,
  revokeAt: string,
  apiStatus: (token: string) => Promise<number>,
): Promise<string | undefined> {
  const auth = basic("svc", secrets.svc as string);
  const form = "application/x-www-form-urlencoded";
  const minted = await fetch(new URL("/oauth/token", mintAt), {
    method: "POST",
    headers: { "content-type": form, authorization: auth },
    body: "grant_type=client_credentials",
  });
  if (minted.status !== 200) return `token issue answered ${minted.status}`;
  const token = ((await minted.json()) as { access_token: string }).access_token;
  const until = async (want: number) => {
    const deadline = performance.now() + 10_000;
    let st = await apiStatus(token);
    while (st !== want && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      st = await apiStatus(token);
    }
    return st;
  };
  const accepted = await until(200);
  if (accepted !== 200) return `the guard answers ${accepted} for a fresh token`;
  const revoked = await fetch(new URL("/oauth/revoke", revokeAt), {
    method: "POST",
    headers: { "content-type": form, authorization: auth },
    body: new URLSearchParams({ token }).toString(),
  });
  if (revoked.status !== 200) return `revocation answered ${revoked.status}`;
  const refused = await until(401);
  if (refused !== 401)
    return `the guard still answers ${refused} for a token revoked after the fault`;
  return undefined;
}
