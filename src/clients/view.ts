import type { ClientRecord, GrantType, SigningAlg, TokenFormat } from "../store/types.js";
import { idTokenAlgOf } from "./oidc.js";

/** A client as shown to operators: never the secret hash. */
export interface ClientView {
  id: string;
  type: "confidential" | "public";
  grants: GrantType[];
  tokenFormat: TokenFormat;
  audience: string[];
  scopes: string[];
  accessTtl: number | undefined;
  introspect: boolean;
  redirectUris: string[];
  firstParty: boolean;
  fingerprint: boolean;
  oidc: boolean;
  /** The ID tokens' algorithm (OIDC clients only). */
  idTokenAlg: SigningAlg | undefined;
  postLogoutRedirectUris: string[];
  backchannelLogoutUri: string | undefined;
  createdAt: number;
}

export function clientView(c: ClientRecord): ClientView {
  return {
    id: c.id,
    type: c.secretHash === undefined ? "public" : "confidential",
    grants: [...c.grants],
    tokenFormat: c.tokenFormat,
    audience: [...c.audience],
    scopes: [...c.scopes],
    accessTtl: c.accessTtl,
    introspect: c.introspect,
    redirectUris: [...c.redirectUris],
    firstParty: c.firstParty,
    fingerprint: c.fingerprint,
    oidc: c.oidc === true,
    idTokenAlg: c.oidc === true ? idTokenAlgOf(c) : undefined,
    postLogoutRedirectUris: [...(c.postLogoutRedirectUris ?? [])],
    backchannelLogoutUri: c.backchannelLogoutUri,
    createdAt: c.createdAt,
  };
}
