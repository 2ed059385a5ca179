import { type ClientChanges, type ClientView, clientView } from "../../clients/clients.js";
import type { Config } from "../../config/defaults.js";
import { TesseraError } from "../../errors.js";
import {
  intOption,
  listOption,
  type Options,
  positionalArgs,
  rejectUnknown,
  type Subcommand,
  stringOption,
  switchOption,
  unknownSubcommand,
  withTessera,
} from "../flags.js";
import type { CliIo } from "../io.js";

/** What `client add` and `client update` both take (add also `--public`; update `--no-*`). */
const CLIENT_OPTIONS = [
  "grants",
  "token-format",
  "audience",
  "scopes",
  "access-ttl",
  "introspect",
  "redirect-uri",
  "first-party",
  "fingerprint",
  "oidc",
  "id-token-alg",
  "post-logout-redirect-uri",
  "backchannel-logout-uri",
] as const;

/** `client …`: every option and argument is checked before the store is opened. */
export async function clientCommand(
  config: Config,
  sub: string | undefined,
  args: string[],
  unknown: Options,
  io: CliIo,
): Promise<number> {
  switch (sub) {
    case "add":
      return clientAdd(config, args, unknown, io);
    case "list":
      return clientList(config, args, unknown, io);
    case "update":
      return clientUpdate(config, args, unknown, io);
    case "remove":
      return clientRemove(config, args, unknown, io);
    case "rotate-secret":
      return clientRotateSecret(config, args, unknown, io);
    default:
      throw unknownSubcommand("client", sub);
  }
}

/** `client add ID [...]`: registers a client; a confidential one's secret is shown once. */
const clientAdd: Subcommand = async (config, args, unknown, io) => {
  rejectUnknown(unknown, [...CLIENT_OPTIONS, "public"]);
  const [clientId] = positionalArgs("client add", args, ["ID"]) as [string];
  const redirectUris = listOption(stringOption("redirect-uri", unknown.get("redirect-uri")));
  const accessTtl = intOption("access-ttl", unknown.get("access-ttl"));
  const tokenFormat = stringOption("token-format", unknown.get("token-format"));
  const idTokenAlg = stringOption("id-token-alg", unknown.get("id-token-alg"));
  const postLogout = listOption(
    stringOption("post-logout-redirect-uri", unknown.get("post-logout-redirect-uri")),
  );
  const backchannel = stringOption("backchannel-logout-uri", unknown.get("backchannel-logout-uri"));
  return withTessera(config, io, async (t) => {
    const { client, secret } = await t.clients.add({
      id: clientId,
      grants: listOption(stringOption("grants", unknown.get("grants"))),
      audience: listOption(stringOption("audience", unknown.get("audience"))),
      scopes: (stringOption("scopes", unknown.get("scopes")) ?? "").split(" ").filter(Boolean),
      introspect: unknown.get("introspect") === true,
      public: unknown.get("public") === true,
      firstParty: unknown.get("first-party") === true,
      fingerprint: unknown.get("fingerprint") === true,
      oidc: unknown.get("oidc") === true,
      redirectUris,
      ...(idTokenAlg === undefined ? {} : { idTokenAlg }),
      ...(postLogout.length === 0 ? {} : { postLogoutRedirectUris: postLogout }),
      ...(backchannel === undefined ? {} : { backchannelLogoutUri: backchannel }),
      ...(accessTtl === undefined ? {} : { accessTtl }),
      ...(tokenFormat === undefined ? {} : { tokenFormat }),
    });
    io.out(`created ${client.type} client ${client.id}`);
    if (secret !== undefined) {
      io.out(`client_secret: ${secret}`);
      io.out("(shown once; only its SHA-256 is stored — keep it in your secret manager)");
    }
    return 0;
  });
};

/** `client list`: one line per client (see `clientLine`). */
const clientList: Subcommand = async (config, args, unknown, io) => {
  rejectUnknown(unknown, []);
  positionalArgs("client list", args, []);
  return withTessera(config, io, async (t) => {
    for (const c of await t.clients.list()) io.out(clientLine(c));
    return 0;
  });
};

/** `client remove ID`: removes the client and ends everything issued to it. */
const clientRemove: Subcommand = async (config, args, unknown, io) => {
  rejectUnknown(unknown, []);
  const [id] = positionalArgs("client remove", args, ["ID"]) as [string];
  return withTessera(config, io, async (t) => {
    await t.removeClient(id);
    io.out(
      `removed client ${id}; its refresh tokens, access tokens, consents and feed connections are ended`,
    );
    return 0;
  });
};

/** `client rotate-secret ID`: a new secret, shown once; the previous one stops working. */
const clientRotateSecret: Subcommand = async (config, args, unknown, io) => {
  rejectUnknown(unknown, []);
  const [id] = positionalArgs("client rotate-secret", args, ["ID"]) as [string];
  return withTessera(config, io, async (t) => {
    const secret = await t.rotateClientSecret(id);
    io.out(`client_secret: ${secret}`);
    io.out("(shown once; the previous secret no longer works)");
    return 0;
  });
};

/** One client as `client list` and `client update` print it. */
function clientLine(c: ClientView): string {
  return [
    c.id,
    c.type,
    c.grants.join(","),
    c.tokenFormat,
    `aud=${c.audience.join(",") || "-"}`,
    `scopes=${c.scopes.join(" ") || "-"}`,
    `ttl=${c.accessTtl ?? "default"}`,
    c.introspect ? "introspect" : "",
    c.firstParty ? "first-party" : "",
    c.fingerprint ? "fingerprint" : "",
    c.oidc ? `oidc id_token=${c.idTokenAlg}` : "",
    c.postLogoutRedirectUris.length > 0 ? `post_logout=${c.postLogoutRedirectUris.join(",")}` : "",
    c.backchannelLogoutUri === undefined ? "" : `backchannel=${c.backchannelLogoutUri}`,
    c.redirectUris.length > 0 ? `redirect=${c.redirectUris.join(",")}` : "",
  ]
    .filter(Boolean)
    .join("\t");
}

/** `client update ID [...]`: only the options given change; checked as `client add` checks. */
const clientUpdate: Subcommand = async (config, args, unknown, io) => {
  rejectUnknown(unknown, [
    ...CLIENT_OPTIONS,
    "no-introspect",
    "no-first-party",
    "no-fingerprint",
    "no-oidc",
  ]);
  const [clientId] = positionalArgs("client update", args, ["ID"]) as [string];
  const changes: ClientChanges = {};
  const list = (name: string) => {
    const v = stringOption(name, unknown.get(name));
    return v === undefined ? undefined : listOption(v);
  };
  const grants = list("grants");
  if (grants !== undefined) changes.grants = grants;
  const audience = list("audience");
  if (audience !== undefined) changes.audience = audience;
  const redirectUris = list("redirect-uri");
  if (redirectUris !== undefined) changes.redirectUris = redirectUris;
  const scopes = stringOption("scopes", unknown.get("scopes"));
  if (scopes !== undefined) changes.scopes = scopes.split(" ").filter(Boolean);
  const tokenFormat = stringOption("token-format", unknown.get("token-format"));
  if (tokenFormat !== undefined) changes.tokenFormat = tokenFormat;
  const postLogout = list("post-logout-redirect-uri");
  if (postLogout !== undefined) changes.postLogoutRedirectUris = postLogout;
  const backchannel = unknown.get("backchannel-logout-uri");
  if (backchannel !== undefined) {
    changes.backchannelLogoutUri =
      backchannel === "" ? null : (stringOption("backchannel-logout-uri", backchannel) ?? null);
  }
  const idTokenAlg = unknown.get("id-token-alg");
  if (idTokenAlg !== undefined) {
    changes.idTokenAlg =
      idTokenAlg === "default" ? null : (stringOption("id-token-alg", idTokenAlg) ?? null);
  }
  const ttl = unknown.get("access-ttl");
  if (ttl !== undefined)
    changes.accessTtl = ttl === "default" ? null : intOption("access-ttl", ttl);
  for (const [flag, key] of [
    ["introspect", "introspect"],
    ["first-party", "firstParty"],
    ["fingerprint", "fingerprint"],
    ["oidc", "oidc"],
  ] as const) {
    const value = switchOption(flag, unknown);
    if (value !== undefined) changes[key] = value;
  }
  if (Object.keys(changes).length === 0) {
    throw new TesseraError("invalid_request", "client update needs an option to change");
  }
  return withTessera(config, io, async (t) => {
    io.out(clientLine(clientView(await t.updateClient(clientId, changes))));
    return 0;
  });
};
