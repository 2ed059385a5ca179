/**
 * What `tessera serve --demo` adds to the server, composed: the demo clients, the demo
 * API's guard (`tessera/guard`, following the revocation feed as any API does), the
 * per-session demo tokens, "revoke" measured for real, and the BFF's options (Tessera
 * itself as the issuer, over loopback, with the demo API as its upstream). The routes
 * (src/server/routes/demo.ts) only translate to and from HTTP.
 */
import type { BffPluginOptions } from "../bff/index.js";
import { TesseraError } from "../errors.js";
import type { VerifyInput } from "../guard/index.js";
import { createGuard, type Guard, type Principal } from "../guard/index.js";
import type { IntrospectionResponse } from "../oauth/introspect.js";
import type { PageFrame } from "../server/pages.js";
import type { UserRecord } from "../store/types.js";
import type { Tessera } from "../tessera.js";
import {
  basicAuth,
  DEMO_CLIENTS,
  type DemoClientName,
  demoAudience,
  registerDemoClients,
} from "./clients.js";
import { DEMO_FRAME } from "./frame.js";
import { type JwtView, viewJwt } from "./jwt-view.js";
import { type ApiAnswer, measureRevocation, type RevocationReport } from "./revoke.js";
import { type DemoTokenSet, DemoTokens } from "./tokens.js";

/** The path of the demo API (the BFF's upstream `demo` and the revoke button's target). */
export const DEMO_API_PATH = "/demo/api/";
/** The BFF's upstream name for the demo API. */
export const DEMO_UPSTREAM = "demo";
/** "Revoke" measurements running at once, all sessions together (each one per session). */
export const MAX_MEASUREMENTS = 4;
/** Milliseconds one call to the demo API may take. */
const API_TIMEOUT_MS = 5000;

export interface DemoOptions {
  /** Where this server is reached from itself (`http://127.0.0.1:PORT`), no trailing slash. */
  loopbackUrl: string;
}

/** Everything the four-ways page shows of a session's tokens (no token string). */
export interface DemoTokensView {
  jwt: JwtView & { api: ApiAnswer; expiresIn: number };
  opaque: { introspection: IntrospectionResponse; api: ApiAnswer };
  revoked?: RevocationReport[];
}

export class Demo {
  /** Its navigation and stylesheet around the server's own pages. */
  readonly frame: PageFrame = DEMO_FRAME;
  readonly tokens: DemoTokens;
  readonly audience: string;
  private guardInstance: Guard | undefined;
  private readying: Promise<void> | undefined;
  private readonly measuring = new Set<string>();

  private constructor(
    private readonly tessera: Tessera,
    private readonly options: DemoOptions,
    private readonly secrets: Record<DemoClientName, string>,
  ) {
    this.tokens = new DemoTokens(tessera, tessera.clock);
    this.audience = demoAudience(tessera.config.issuer);
  }

  /** Registers the demo clients (anew) and returns the demo. */
  static async open(tessera: Tessera, options: DemoOptions): Promise<Demo> {
    const origin = new URL(tessera.config.issuer).origin;
    const audience = demoAudience(tessera.config.issuer);
    const secrets = await registerDemoClients(tessera, origin, audience);
    return new Demo(tessera, { loopbackUrl: options.loopbackUrl.replace(/\/$/, "") }, secrets);
  }

  /** The BFF plugin's options: Tessera over loopback, the demo API as upstream `demo`. */
  bffOptions(): BffPluginOptions {
    const { issuer } = this.tessera.config;
    return {
      issuer,
      issuerUrl: this.options.loopbackUrl,
      clientId: DEMO_CLIENTS.bff,
      clientSecret: this.secrets.bff,
      publicUrl: new URL(issuer).origin,
      upstreams: { [DEMO_UPSTREAM]: `${this.options.loopbackUrl}${DEMO_API_PATH}` },
      store: this.tessera.stores.ephemeral,
      clock: this.tessera.clock,
    };
  }

  /**
   * The demo API's guard, made on first use (once the server listens: it fetches the JWKS
   * and follows the feed over loopback).
   */
  guard(): Guard {
    if (this.guardInstance === undefined) {
      const base = this.options.loopbackUrl;
      this.guardInstance = createGuard({
        issuer: this.tessera.config.issuer,
        audience: this.audience,
        jwks: `${base}/.well-known/jwks.json`,
        clock: this.tessera.clock,
        introspection: {
          clientId: DEMO_CLIENTS.api,
          clientSecret: this.secrets.api,
          url: `${base}/oauth/introspect`,
        },
        revocations: { url: `${base}/events/revocations` },
        fingerprint: true,
      });
    }
    return this.guardInstance;
  }

  /** The guard is ready: JWKS loaded, feed synced (retried on the next call after a failure). */
  ready(): Promise<void> {
    if (this.readying === undefined) {
      this.readying = this.guard()
        .ready()
        .catch((err: unknown) => {
          this.readying = undefined;
          throw new TesseraError("server_busy", "The demo API is starting; retry shortly.", {
            retryAfter: 1,
            cause: err,
          });
        });
    }
    return this.readying;
  }

  /** The demo API's check of a request. */
  verify(input: VerifyInput): Promise<Principal> {
    return this.guard().verify(input);
  }

  /** The session's demo tokens as the page shows them, issued first when it has none. */
  async view(sessionId: string, user: UserRecord): Promise<DemoTokensView> {
    await this.ready();
    const set = this.tokens.get(sessionId) ?? (await this.tokens.issue(sessionId, user));
    const [jwtApi, opaqueApi, introspection] = await Promise.all([
      this.callApi(set.jwt.token, set.jwt.fingerprint),
      this.callApi(set.opaque.token),
      this.tessera.oauth.introspect(basicAuth(DEMO_CLIENTS.api, this.secrets.api), {
        token: set.opaque.token,
      }),
    ]);
    const expiresIn = Math.max(
      0,
      Math.round((set.jwt.expiresAt - this.tessera.clock.now()) / 1000),
    );
    const view: DemoTokensView = {
      jwt: { ...viewJwt(set.jwt.token), api: jwtApi, expiresIn },
      opaque: { introspection, api: opaqueApi },
    };
    if (set.revoked !== undefined) view.revoked = set.revoked;
    return view;
  }

  /** New demo tokens for the session (after a revocation, say). */
  async renew(sessionId: string, user: UserRecord): Promise<void> {
    await this.tokens.issue(sessionId, user);
  }

  /**
   * Revokes the session's JWT, then its opaque token, each measured (./revoke.ts). One
   * measurement per session at a time and MAX_MEASUREMENTS in all: else 503 server_busy.
   */
  async revoke(sessionId: string, user: UserRecord): Promise<RevocationReport[]> {
    if (this.measuring.has(sessionId) || this.measuring.size >= MAX_MEASUREMENTS) {
      throw new TesseraError("server_busy", "A revocation is being measured; retry shortly.", {
        retryAfter: 1,
      });
    }
    this.measuring.add(sessionId);
    try {
      await this.ready();
      const set: DemoTokenSet =
        this.tokens.get(sessionId) ?? (await this.tokens.issue(sessionId, user));
      const jwt = await measureRevocation("jwt", {
        call: () => this.callApi(set.jwt.token, set.jwt.fingerprint),
        revoke: () => this.revokeToken("jwt", set.jwt.token),
      });
      const opaque = await measureRevocation("opaque", {
        call: () => this.callApi(set.opaque.token),
        revoke: () => this.revokeToken("opaque", set.opaque.token),
      });
      set.revoked = [jwt, opaque];
      return set.revoked;
    } finally {
      this.measuring.delete(sessionId);
    }
  }

  close(): void {
    this.guardInstance?.close();
  }

  /** RFC 7009 revocation by the client the token was issued to, acknowledged when this resolves. */
  private revokeToken(name: "jwt" | "opaque", token: string): Promise<void> {
    return this.tessera.oauth.revoke(basicAuth(DEMO_CLIENTS[name], this.secrets[name]), {
      token,
    });
  }

  /** One real HTTP call to the demo API with the token (and its fingerprint cookie). */
  private async callApi(token: string, fingerprint?: string): Promise<ApiAnswer> {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (fingerprint !== undefined) headers.cookie = `__Host-fgp=${fingerprint}`;
    const res = await fetch(`${this.options.loopbackUrl}${DEMO_API_PATH}`, {
      headers,
      signal: AbortSignal.timeout(API_TIMEOUT_MS),
    });
    const text = await res.text();
    if (res.status === 200) return { status: 200 };
    const answer: ApiAnswer = { status: res.status };
    try {
      const body = JSON.parse(text) as { error?: unknown; error_description?: unknown };
      if (typeof body.error === "string") answer.error = body.error;
      if (typeof body.error_description === "string") answer.description = body.error_description;
    } catch {
      // Not JSON: the status says it.
    }
    return answer;
  }
}
