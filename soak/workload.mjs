/**
 * The soak run's mixed workload, paced (this is about leaks, not throughput): a few
 * workers, each doing one action at a time with a pause between, on the instances in
 * turn (a load balancer without sticky sessions). It keeps a model of what it created —
 * sessions, opaque tokens, refresh-token families — and of when each ends (idle and
 * absolute timeouts, expiry, logout, "log out everywhere", revocation), so that after the
 * run the rows in the store can be compared with the objects that should still be live.
 *
 * Every answer is counted by action and status; a 5xx or a network error is a finding,
 * and so is an answer the model did not expect (a live session refused, an active token
 * introspected as inactive).
 */
import { createHash, randomBytes } from "node:crypto";
import { oauthPost, request, subscribe } from "./http.mjs";

export const REDIRECT = "https://app.soak.test/cb";
/** Seconds of slack around a modelled expiry before a disagreement counts. */
const SLACK_MS = 3000;
const MAX_HELD_SESSIONS = 40;
const MAX_HELD_OPAQUE = 60;
const MAX_HELD_FAMILIES = 30;

const pick = (list) => list[Math.floor(Math.random() * list.length)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Weighted actions: [name, weight]. */
const ACTIONS = [
  ["session_check", 30],
  ["login", 5],
  ["token_jwt", 8],
  ["token_opaque", 8],
  ["introspect_active", 12],
  ["introspect_random", 2],
  ["code_flow", 5],
  ["refresh", 8],
  ["revoke_opaque", 3],
  ["revoke_refresh", 2],
  ["logout", 3],
  ["logout_all", 1],
];
const TOTAL_WEIGHT = ACTIONS.reduce((a, [, w]) => a + w, 0);

function chooseAction() {
  let r = Math.random() * TOTAL_WEIGHT;
  for (const [name, w] of ACTIONS) {
    r -= w;
    if (r < 0) return name;
  }
  return "session_check";
}

export class Workload {
  /**
   * `ports`: the instances; `users`: [{ name, password }]; `auth`: Basic credentials of
   * svc (JWT), opq (opaque), rs (introspection, feed) and app (code + refresh);
   * `lifetimes` in seconds: sessionIdle, sessionAbsolute, refreshIdle.
   */
  constructor({ ports, users, auth, lifetimes, workers = 3, pauseMs = [150, 400] }) {
    Object.assign(this, { ports, users, auth, lifetimes, workers, pauseMs });
    this.turn = 0;
    this.outcomes = new Map(); // "action status" → count
    this.findings = []; // { at, action, port, what }
    this.findingCount = 0;
    this.surprises = new Map(); // kind → count
    this.sessions = []; // { cookie, user, createdAt, lastUsed, ended, held }
    this.opaque = []; // { token, exp, revoked, held }
    this.families = []; // { refresh, user, lastUsed, createdAt, ended, held }
    this.feed = { connects: 0, refused: 0, errors: 0, events: 0, open: new Set() };
    this.stopped = false;
    this.loginBusy = false;
    /** user → when the last "log out everywhere" of theirs was sent (ms). */
    this.endedEverywhere = new Map();
  }

  port() {
    const p = this.ports[this.turn % this.ports.length];
    this.turn++;
    return p;
  }

  count(action, status, error) {
    const key = `${action} ${status}${error === undefined ? "" : ` ${error}`}`;
    this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + 1);
    if (typeof status !== "number" || status >= 500) {
      this.finding(action, undefined, `answered ${status}`);
    }
  }

  finding(action, port, what) {
    this.findingCount++;
    if (this.findings.length < 30) {
      this.findings.push({ at: new Date().toISOString(), action, port, what });
    }
  }

  surprise(kind) {
    this.surprises.set(kind, (this.surprises.get(kind) ?? 0) + 1);
  }

  /**
   * A refusal of something the model held live: expected if another worker's "log out
   * everywhere" for the same user was sent while this request was on its way (a race
   * of the workload's own, not of the server's), otherwise a surprise.
   */
  refused(kind, user, sentAt) {
    const ended = this.endedEverywhere.get(user);
    if (ended !== undefined && ended >= sentAt - SLACK_MS) {
      const key = `${kind}, raced with the user's log out everywhere (expected)`;
      this.surprises.set(key, (this.surprises.get(key) ?? 0) + 1);
      return;
    }
    this.surprise(kind);
  }

  // ── The model: what should be live at `now` ───────────────────────────────────────────

  sessionLive(s, now) {
    const { sessionIdle, sessionAbsolute } = this.lifetimes;
    return (
      !s.ended &&
      s.lastUsed + sessionIdle * 1000 > now &&
      s.createdAt + sessionAbsolute * 1000 > now
    );
  }

  /** Close to an expiry boundary: the server and the model may disagree by a clock tick. */
  sessionNearEnd(s, now) {
    const { sessionIdle, sessionAbsolute } = this.lifetimes;
    const ends = Math.min(s.lastUsed + sessionIdle * 1000, s.createdAt + sessionAbsolute * 1000);
    return Math.abs(ends - now) < SLACK_MS;
  }

  familyLive(f, now) {
    return !f.ended && f.lastUsed + this.lifetimes.refreshIdle * 1000 > now;
  }

  /** Expected live objects now, by the model. */
  expected(now = Date.now()) {
    return {
      sessions: this.sessions.filter((s) => this.sessionLive(s, now)).length,
      opaque: this.opaque.filter((t) => !t.revoked && t.exp > now).length,
      families: this.families.filter((f) => this.familyLive(f, now)).length,
    };
  }

  /** Forget what has ended for good (the lists stay small over a long run). */
  prune(now = Date.now()) {
    this.sessions = this.sessions.filter((s) => s.held || this.sessionLive(s, now));
    this.opaque = this.opaque.filter((t) => t.held || (!t.revoked && t.exp > now));
    this.families = this.families.filter((f) => f.held || this.familyLive(f, now));
  }

  held(list) {
    return list.filter((x) => x.held);
  }

  /** Marks the oldest held beyond `max` as abandoned: they live on until they expire. */
  abandon(list, max) {
    const held = this.held(list);
    for (let i = 0; i < held.length - max; i++) held[i].held = false;
  }

  // ── Actions ───────────────────────────────────────────────────────────────────────────

  async login(port) {
    const user = pick(this.users);
    const body = JSON.stringify({ username: user.name, password: user.password });
    const res = await request(port, "POST", "/login", {
      headers: { "content-type": "application/json" },
      body,
    });
    this.count("login", res.status);
    const cookie = [res.headers["set-cookie"] ?? []].flat()[0]?.split(";")[0];
    if (res.status !== 200 || cookie === undefined) return undefined;
    const now = Date.now();
    const s = { cookie, user: user.name, createdAt: now, lastUsed: now, ended: false, held: true };
    this.sessions.push(s);
    this.abandon(this.sessions, MAX_HELD_SESSIONS);
    return s;
  }

  /** A held session the model believes live (or none). */
  liveSession() {
    const now = Date.now();
    const live = this.sessions.filter(
      (s) => s.held && !s.busy && this.sessionLive(s, now) && !this.sessionNearEnd(s, now),
    );
    return live.length === 0 ? undefined : pick(live);
  }

  async sessionCheck(port) {
    const s = this.liveSession();
    if (s === undefined) return this.login(port);
    const sentAt = Date.now();
    s.busy = true;
    try {
      const res = await request(port, "GET", "/session", { headers: { cookie: s.cookie } });
      this.count("session_check", res.status);
      if (res.status === 200) s.lastUsed = Date.now();
      else if (res.status === 401) {
        this.refused("live session refused (401)", s.user, sentAt);
        s.ended = true;
        s.held = false;
      }
    } finally {
      s.busy = false;
    }
  }

  async logout(port, all) {
    const s = this.liveSession();
    if (s === undefined) return;
    const body = all ? JSON.stringify({ all: true }) : "{}";
    if (all) this.endedEverywhere.set(s.user, Date.now());
    s.busy = true;
    const res = await request(port, "POST", "/logout", {
      headers: { cookie: s.cookie, "content-type": "application/json" },
      body,
    });
    s.busy = false;
    this.count(all ? "logout_all" : "logout", res.status);
    if (res.status !== 204) return;
    if (!all) {
      s.ended = true;
      s.held = false;
      return;
    }
    // Every session, refresh family (and opaque token of the user's) ends.
    for (const x of this.sessions) if (x.user === s.user) x.ended = true;
    for (const f of this.families) if (f.user === s.user) f.ended = true;
  }

  async token(port, format) {
    const auth = format === "jwt" ? this.auth.svc : this.auth.opq;
    const r = await oauthPost(port, "/oauth/token", auth, { grant_type: "client_credentials" });
    this.count(`token_${format}`, r.status);
    if (r.status !== 200 || format !== "opaque") return;
    const exp = Date.now() + r.body.expires_in * 1000;
    this.opaque.push({ token: r.body.access_token, exp, revoked: false, held: true });
    this.abandon(this.opaque, MAX_HELD_OPAQUE);
  }

  async introspect(port, random) {
    const now = Date.now();
    const candidates = this.opaque.filter(
      (t) => t.held && !t.busy && (t.revoked || t.exp > now + SLACK_MS),
    );
    const t = random || candidates.length === 0 ? undefined : pick(candidates);
    const token = t?.token ?? `tsr_${randomBytes(43).toString("base64url")}`;
    if (t !== undefined) t.busy = true;
    const r = await oauthPost(port, "/oauth/introspect", this.auth.rs, { token }).finally(() => {
      if (t !== undefined) t.busy = false;
    });
    this.count(random ? "introspect_random" : "introspect_active", r.status);
    if (r.status !== 200 || t === undefined) return;
    if (r.body.active !== !t.revoked) this.surprise(`opaque token active=${r.body.active}`);
  }

  async revokeOpaque(port) {
    const live = this.opaque.filter((t) => t.held && !t.busy && !t.revoked);
    if (live.length === 0) return;
    const t = pick(live);
    t.busy = true;
    const r = await oauthPost(port, "/oauth/revoke", this.auth.opq, { token: t.token }).finally(
      () => {
        t.busy = false;
      },
    );
    this.count("revoke_opaque", r.status);
    if (r.status === 200) t.revoked = true;
  }

  async codeFlow(port) {
    const s = this.liveSession();
    if (s === undefined) return;
    const verifier = randomBytes(32).toString("base64url");
    const query = new URLSearchParams({
      response_type: "code",
      client_id: "app",
      redirect_uri: REDIRECT,
      scope: "read",
      state: randomBytes(8).toString("hex"),
      code_challenge: createHash("sha256").update(verifier).digest("base64url"),
      code_challenge_method: "S256",
    });
    const sentAt = Date.now();
    s.busy = true;
    let res;
    try {
      res = await request(port, "GET", `/oauth/authorize?${query}`, {
        headers: { cookie: s.cookie },
      });
    } finally {
      s.busy = false;
    }
    this.count("authorize", res.status);
    const location = res.headers.location;
    const code = location === undefined ? null : new URL(location).searchParams.get("code");
    if (res.status !== 303 || code === null) {
      this.refused(`authorize answered ${res.status}`, s.user, sentAt);
      return;
    }
    s.lastUsed = Date.now();
    const r = await oauthPost(this.port(), "/oauth/token", this.auth.app, {
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
    });
    this.count("code_exchange", r.status, r.body.error);
    if (r.status !== 200) this.refused(`code exchange refused (${r.body.error})`, s.user, sentAt);
    if (r.status !== 200 || typeof r.body.refresh_token !== "string") return;
    const now = Date.now();
    const f = {
      refresh: r.body.refresh_token,
      user: s.user,
      createdAt: now,
      lastUsed: now,
      ended: false,
      held: true,
    };
    this.families.push(f);
    this.abandon(this.families, MAX_HELD_FAMILIES);
  }

  liveFamily() {
    const now = Date.now();
    const idle = this.lifetimes.refreshIdle * 1000;
    const live = this.families.filter(
      (f) => f.held && !f.busy && this.familyLive(f, now) && f.lastUsed + idle > now + SLACK_MS,
    );
    return live.length === 0 ? undefined : pick(live);
  }

  async refresh(port) {
    const f = this.liveFamily();
    if (f === undefined) return;
    const sentAt = Date.now();
    f.busy = true;
    let r;
    try {
      r = await oauthPost(port, "/oauth/token", this.auth.app, {
        grant_type: "refresh_token",
        refresh_token: f.refresh,
      });
    } finally {
      f.busy = false;
    }
    this.count("refresh", r.status, r.body.error);
    if (r.status === 200) {
      f.refresh = r.body.refresh_token;
      f.lastUsed = Date.now();
    } else if (r.status === 400) {
      this.refused(`live refresh token refused (${r.body.error})`, f.user, sentAt);
      f.ended = true;
      f.held = false;
    }
  }

  async revokeRefresh(port) {
    const f = this.liveFamily();
    if (f === undefined) return;
    f.busy = true;
    let r;
    try {
      r = await oauthPost(port, "/oauth/revoke", this.auth.app, {
        token: f.refresh,
        token_type_hint: "refresh_token",
      });
    } finally {
      f.busy = false;
    }
    this.count("revoke_refresh", r.status);
    if (r.status === 200) {
      f.ended = true;
      f.held = false;
    }
  }

  async act(name) {
    const port = this.port();
    try {
      switch (name) {
        case "session_check":
          return await this.sessionCheck(port);
        case "login":
          if (this.loginBusy) return await this.sessionCheck(port);
          this.loginBusy = true;
          try {
            return await this.login(port);
          } finally {
            this.loginBusy = false;
          }
        case "token_jwt":
          return await this.token(port, "jwt");
        case "token_opaque":
          return await this.token(port, "opaque");
        case "introspect_active":
          return await this.introspect(port, false);
        case "introspect_random":
          return await this.introspect(port, true);
        case "code_flow":
          return await this.codeFlow(port);
        case "refresh":
          return await this.refresh(port);
        case "revoke_opaque":
          return await this.revokeOpaque(port);
        case "revoke_refresh":
          return await this.revokeRefresh(port);
        case "logout":
          return await this.logout(port, false);
        case "logout_all":
          return await this.logout(port, true);
      }
    } catch (err) {
      this.count(name, `error (${err instanceof Error ? err.message : err})`);
    }
  }

  // ── Revocation-feed subscribers, coming and going ─────────────────────────────────────

  async feedStep() {
    const open = [...this.feed.open];
    const perInstance = 3;
    if (
      open.length > 0 &&
      (Math.random() < 0.4 || open.length >= perInstance * this.ports.length)
    ) {
      const sub = pick(open);
      this.feed.open.delete(sub);
      this.feed.events += sub.events;
      sub.close();
      return;
    }
    const sub = subscribe(this.port(), this.auth.rs);
    await sub.ready;
    this.feed.connects++;
    if (sub.status === 200) this.feed.open.add(sub);
    else if (sub.status === 503) this.feed.refused++;
    else {
      this.feed.errors++;
      this.count("feed_connect", sub.error === undefined ? sub.status : `error (${sub.error})`);
      sub.close();
      return;
    }
    this.count("feed_connect", sub.status);
  }

  closeFeeds() {
    for (const sub of this.feed.open) {
      this.feed.events += sub.events;
      sub.close();
    }
    this.feed.open.clear();
  }

  // ── Running ───────────────────────────────────────────────────────────────────────────

  async worker() {
    const [lo, hi] = this.pauseMs;
    while (!this.stopped) {
      await this.act(chooseAction());
      await sleep(lo + Math.random() * (hi - lo));
    }
  }

  async feeder() {
    while (!this.stopped) {
      await this.feedStep();
      await sleep(2000 + Math.random() * 4000);
    }
  }

  /** Runs until `stop()`; resolves when every worker has finished its last action. */
  run() {
    const loops = Array.from({ length: this.workers }, () => this.worker());
    loops.push(this.feeder());
    const pruner = setInterval(() => this.prune(), 30_000);
    this.done = Promise.all(loops).finally(() => clearInterval(pruner));
    return this.done;
  }

  async stop() {
    this.stopped = true;
    await this.done;
    this.closeFeeds();
  }
}
