import { type AuditRecorder, NO_AUDIT } from "../audit/recorder.js";
import type { EvictingCache } from "../cache/cache.js";
import type { Clock } from "../clock.js";
import { isRandomIdShaped, randomId, randomToken, safeEqual, sha256 } from "../crypto/random.js";
import type { SecretTokens } from "../crypto/token-format.js";
import { TesseraError } from "../errors.js";
import { isScopeToken } from "../shared/scope-token.js";
import type {
  ClientRecord,
  ClientStore,
  GrantType,
  SigningAlg,
  TokenFormat,
} from "../store/types.js";
import { narrowingOf } from "./narrowing.js";
import {
  backchannelChange,
  checkIdTokenAlg,
  checkLogoutUris,
  idTokenAlgChange,
  idTokenAlgOf,
  OPENID_SCOPE,
} from "./oidc.js";
import { checkRedirectUri } from "./uris.js";
import { type ClientView, clientView } from "./view.js";

export { type ClientView, clientView } from "./view.js";
export { idTokenAlgOf, OPENID_SCOPE };

/** Grants this version implements. */
export const SUPPORTED_GRANTS: readonly GrantType[] = [
  "authorization_code",
  "refresh_token",
  "client_credentials",
];
export const TOKEN_FORMATS: readonly TokenFormat[] = ["jwt", "opaque"];

/** The shape of a client id (anything else names no client). */
export const CLIENT_ID = /^[A-Za-z0-9._~-]{1,128}$/;
/** The longest scope-token a client may be registered with or ask for. */
const MAX_SCOPE_TOKEN = 128;

export interface NewClient {
  id: string;
  grants: string[];
  tokenFormat?: string;
  audience: string[];
  scopes: string[];
  accessTtl?: number;
  introspect?: boolean;
  public?: boolean;
  redirectUris?: string[];
  firstParty?: boolean;
  fingerprint?: boolean;
  /** An OpenID Connect relying party (`scope=openid` gets an ID token). */
  oidc?: boolean;
  /** Its `id_token_signed_response_alg`: RS256 (the default), ES256 or EdDSA. */
  idTokenAlg?: string;
  /** RP-Initiated Logout: where the end-session endpoint may return to (exact match). */
  postLogoutRedirectUris?: string[];
  /** Back-Channel Logout: https (http only for loopback), no fragment. */
  backchannelLogoutUri?: string;
}

function invalid(message: string): TesseraError {
  return new TesseraError("invalid_request", message);
}

/** Parses a space-separated scope string; duplicates collapse; order kept. */
export function parseScope(text: string): string[] {
  const out: string[] = [];
  for (const s of text.split(" ")) {
    if (s === "") continue;
    if (s.length > MAX_SCOPE_TOKEN || !isScopeToken(s))
      throw new TesseraError("invalid_scope", "Malformed scope.");
    if (!out.includes(s)) out.push(s);
  }
  return out;
}

/** What `client update` may change; absent fields stay as they are. */
export interface ClientChanges {
  grants?: string[];
  tokenFormat?: string;
  audience?: string[];
  scopes?: string[];
  /** Seconds; null: back to the server default. */
  accessTtl?: number | null;
  introspect?: boolean;
  redirectUris?: string[];
  firstParty?: boolean;
  fingerprint?: boolean;
  oidc?: boolean;
  /** null: back to the default (RS256). */
  idTokenAlg?: string | null;
  postLogoutRedirectUris?: string[];
  /** null: none any more. */
  backchannelLogoutUri?: string | null;
}

/** The registration of a client as `add` and `update` check it. */
type Registration = Pick<
  ClientRecord,
  | "grants"
  | "tokenFormat"
  | "audience"
  | "scopes"
  | "introspect"
  | "redirectUris"
  | "firstParty"
  | "fingerprint"
> & {
  accessTtl: number | undefined;
  oidc: boolean;
  idTokenAlg: SigningAlg | undefined;
  postLogoutRedirectUris: string[];
  backchannelLogoutUri: string | undefined;
};

/**
 * OAuth clients: registration, secrets and authentication. A confidential client's
 * secret is a 256-bit token like every other (`tsr_…`, so secret scanners find leaked
 * ones), shown once and stored as its SHA-256 (a high-entropy secret needs no slow hash),
 * compared in constant time. Authentication looks the client up by id, not by secret, so
 * secrets issued before the token format existed keep working until rotated.
 */
export class Clients {
  /** Compared against when the client id is unknown, so both paths do the same work. */
  private readonly dummyHash = sha256(randomToken());

  constructor(
    private readonly store: ClientStore,
    private readonly clock: Clock,
    private readonly limits: { maxAccessTtl: number },
    private readonly format: SecretTokens,
    /** The algorithms the installation's keys sign ID tokens with now (empty: no key yet). */
    private readonly idTokenAlgs: () => readonly SigningAlg[] = () => [],
    /** The audit trail: clients added (changes, rotations and removals: ClientLifecycle). */
    private readonly audit: AuditRecorder = NO_AUDIT,
    /**
     * Clients by id for authentication and `findCached` (src/cache): evicted on every
     * change by any process. Absent: every read goes to the store.
     */
    private readonly cache?: EvictingCache<string, ClientRecord>,
  ) {}

  /** Registers a client; returns it and, for a confidential client, its secret (once). */
  async add(input: NewClient): Promise<{ client: ClientView; secret: string | undefined }> {
    if (!CLIENT_ID.test(input.id)) {
      throw invalid("Client ids are 1 to 128 characters: letters, digits and . _ ~ -");
    }
    if (isRandomIdShaped(input.id)) {
      // A token's `sub` is a user id (22 base64url characters) or a client id: a client
      // named like a user would get tokens with that user's `sub`.
      throw invalid(
        "Client ids may not be 22 characters of only letters, digits, _ and - (that is the shape of a user id).",
      );
    }
    const isPublic = input.public ?? false;
    const registration = this.check(input, isPublic);
    this.checkIdTokenKey(registration.idTokenAlg);
    const now = this.clock.now();
    const secret = isPublic ? undefined : this.format.mint();
    const record: ClientRecord = {
      id: input.id,
      ...stored(registration),
      // A new registration: nothing given to an earlier client of this id is its own.
      generation: randomId(),
      accessTokensValidAfter: now,
      createdAt: now,
      updatedAt: now,
    };
    if (secret !== undefined) record.secretHash = sha256(secret);
    await this.store.createClient(record);
    await this.audit.record({
      type: "client_added",
      clientId: record.id,
      details: { grants: record.grants, format: record.tokenFormat, public: isPublic },
    });
    return { client: clientView(record), secret };
  }

  /**
   * Changes a client's registration, checked as `add` checks it. A narrowing (a scope,
   * an audience or a grant taken away) moves `accessTokensValidAfter` to now: every
   * access token the client holds is revoked from then on (see ClientLifecycle).
   */
  async update(
    id: string,
    changes: ClientChanges,
  ): Promise<{ before: ClientRecord; after: ClientRecord }> {
    const before = await this.find(id);
    if (before === undefined) throw new TesseraError("client_not_found", "No such client.");
    const accessTtl =
      changes.accessTtl === null ? undefined : (changes.accessTtl ?? before.accessTtl);
    const registration = this.check(
      {
        id,
        grants: changes.grants ?? before.grants,
        tokenFormat: changes.tokenFormat ?? before.tokenFormat,
        audience: changes.audience ?? before.audience,
        scopes: changes.scopes ?? before.scopes,
        introspect: changes.introspect ?? before.introspect,
        redirectUris: changes.redirectUris ?? before.redirectUris,
        firstParty: changes.firstParty ?? before.firstParty,
        fingerprint: changes.fingerprint ?? before.fingerprint,
        oidc: changes.oidc ?? before.oidc === true,
        postLogoutRedirectUris:
          changes.postLogoutRedirectUris ??
          (changes.oidc === false ? [] : (before.postLogoutRedirectUris ?? [])),
        ...backchannelChange(changes, before),
        ...(accessTtl === undefined ? {} : { accessTtl }),
        ...idTokenAlgChange(changes, before),
      },
      before.secretHash === undefined,
    );
    const now = this.clock.now();
    const after: ClientRecord = { ...before, updatedAt: now };
    delete after.accessTtl;
    delete after.oidc;
    delete after.idTokenAlg;
    delete after.postLogoutRedirectUris;
    delete after.backchannelLogoutUri;
    Object.assign(after, stored(registration));
    if (changes.idTokenAlg !== undefined && changes.idTokenAlg !== null) {
      this.checkIdTokenKey(registration.idTokenAlg);
    }
    if (narrowingOf(before, after).narrowed) after.accessTokensValidAfter = now;
    await this.store.updateClient(after);
    return { before, after };
  }

  /**
   * An ID-token algorithm asked for explicitly must be one the installation's keys sign
   * with, or the client's sign-ins would fail at the token endpoint. A server makes a key
   * of every algorithm (src/keys/companion.ts); only an installation made before that and
   * not served since lacks some.
   */
  private checkIdTokenKey(alg: SigningAlg | undefined): void {
    const algs = this.idTokenAlgs();
    if (alg === undefined || algs.length === 0 || algs.includes(alg)) return;
    throw invalid(
      `No key of this installation signs ${alg} yet (it signs with ${algs.join(", ")}): ` +
        `start \`tessera serve\` once (it makes a key of every algorithm for ID tokens) or pick one of those for --id-token-alg.`,
    );
  }

  /** The rules of a registration, shared by `add` and `update`. */
  private check(input: NewClient, isPublic: boolean): Registration {
    const grants = [...new Set(input.grants)];
    if (grants.length === 0) throw invalid("A client needs at least one grant (--grants).");
    for (const g of grants) {
      if (!SUPPORTED_GRANTS.includes(g as GrantType)) {
        throw invalid(`Unsupported grant "${g}"; supported: ${SUPPORTED_GRANTS.join(", ")}.`);
      }
    }
    const tokenFormat = (input.tokenFormat ?? "jwt") as TokenFormat;
    if (!TOKEN_FORMATS.includes(tokenFormat)) {
      throw invalid(`Unsupported token format; supported: ${TOKEN_FORMATS.join(", ")}.`);
    }
    if (isPublic && grants.includes("client_credentials")) {
      throw invalid("A public client cannot use client_credentials (it has no secret).");
    }
    const audience = [...new Set(input.audience)];
    if (audience.length === 0) {
      throw invalid("Access tokens need an audience (--audience): the API that accepts them.");
    }
    for (const a of audience) {
      if (a.length === 0 || a.length > 512 || /[\s\p{Cc}]/u.test(a)) {
        throw invalid("Audiences are non-empty strings without spaces (usually the API's URL).");
      }
    }
    const scopes = parseScope(input.scopes.join(" "));
    if (input.accessTtl !== undefined) {
      if (
        !Number.isInteger(input.accessTtl) ||
        input.accessTtl < 1 ||
        input.accessTtl > this.limits.maxAccessTtl
      ) {
        throw invalid(
          `--access-ttl must be 1 to ${this.limits.maxAccessTtl} seconds (the configured maximum).`,
        );
      }
    }
    const redirectUris = [...new Set(input.redirectUris ?? [])].map(checkRedirectUri);
    if (grants.includes("authorization_code") && redirectUris.length === 0) {
      throw invalid("authorization_code needs at least one --redirect-uri (matched exactly).");
    }
    if (grants.includes("refresh_token") && !grants.includes("authorization_code")) {
      throw invalid(
        "refresh_token comes with authorization_code (refresh tokens are issued for a user's grant).",
      );
    }
    const oidc = input.oidc ?? false;
    return {
      grants: grants as GrantType[],
      tokenFormat,
      audience,
      // An OpenID Connect client may always ask for `openid`.
      scopes: oidc && !scopes.includes(OPENID_SCOPE) ? [OPENID_SCOPE, ...scopes] : scopes,
      accessTtl: input.accessTtl,
      introspect: input.introspect ?? false,
      redirectUris,
      firstParty: input.firstParty ?? false,
      fingerprint: input.fingerprint ?? false,
      oidc,
      idTokenAlg: checkIdTokenAlg(input, grants),
      ...checkLogoutUris(input),
    };
  }

  async list(): Promise<ClientView[]> {
    return (await this.store.listClients()).map(clientView);
  }

  /** The client as stored now (what a change, or a check after a grant, must read). */
  find(id: string): Promise<ClientRecord | undefined> {
    // No client has an id outside CLIENT_ID, so the store is not asked for one (a NUL
    // byte, say, which PostgreSQL refuses as text: a 500 where the answer is "no client").
    if (!CLIENT_ID.test(id)) return Promise.resolve(undefined);
    return this.store.findClient(id);
  }

  /**
   * The client from the in-process cache when it holds it, else from the store: for the
   * hot paths (client authentication, an introspected token's client). Exact on this
   * process; another process's change reaches it with the revocation log (src/cache).
   */
  findCached(id: string): Promise<ClientRecord | undefined> {
    if (!CLIENT_ID.test(id)) return Promise.resolve(undefined);
    if (this.cache === undefined) return this.store.findClient(id);
    return this.cache.load(id, () => this.store.findClient(id));
  }

  /** Deletes the registration only; ClientLifecycle.remove ends what it was given. */
  async remove(id: string): Promise<ClientRecord> {
    const client = await this.find(id);
    if (client === undefined || !(await this.store.deleteClient(id)))
      throw new TesseraError("client_not_found", "No such client.");
    return client;
  }

  /** A new secret for a confidential client; the old one stops working at once. */
  async rotateSecret(id: string): Promise<string> {
    const client = await this.find(id);
    if (client === undefined) throw new TesseraError("client_not_found", "No such client.");
    if (client.secretHash === undefined) throw invalid("A public client has no secret.");
    const secret = this.format.mint();
    await this.store.updateClient({
      ...client,
      secretHash: sha256(secret),
      updatedAt: this.clock.now(),
    });
    return secret;
  }

  /**
   * Authenticates a confidential client. Unknown id, public client and wrong secret all
   * fail the same way, after the same work: 401 `invalid_client`.
   */
  async authenticate(id: string, secret: string): Promise<ClientRecord> {
    const client = CLIENT_ID.test(id) ? await this.findCached(id) : undefined;
    const presented = sha256(secret);
    const ok = safeEqual(presented, client?.secretHash ?? this.dummyHash);
    if (!ok || client === undefined || client.secretHash === undefined) {
      throw new TesseraError("invalid_client", "Client authentication failed.", {
        oauthError: "invalid_client",
      });
    }
    return client;
  }
}

/** A checked registration as the record stores it: optional fields only when set. */
function stored(
  r: Registration,
): Omit<ClientRecord, "id" | "generation" | "accessTokensValidAfter" | "createdAt" | "updatedAt"> {
  const { accessTtl, oidc, idTokenAlg, postLogoutRedirectUris, backchannelLogoutUri, ...rest } = r;
  return {
    ...rest,
    ...(postLogoutRedirectUris.length === 0 ? {} : { postLogoutRedirectUris }),
    ...(backchannelLogoutUri === undefined ? {} : { backchannelLogoutUri }),
    ...(accessTtl === undefined ? {} : { accessTtl }),
    ...(oidc ? { oidc } : {}),
    ...(idTokenAlg === undefined ? {} : { idTokenAlg }),
  };
}
