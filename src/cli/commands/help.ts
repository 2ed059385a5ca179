import {
  envName,
  flagName,
  SETTINGS,
  type SettingKey,
  type SettingSpec,
} from "../../config/defaults.js";

const USAGE = `Usage: tessera <command> [options]

Commands:
  serve [--port 4000] [--host 127.0.0.1] [--data DIR] [--db URL] [--redis URL]
        [--issuer URL [--change-issuer]] [--trust-proxy [HOPS]]
        [--tls-cert FILE --tls-key FILE]  (HTTPS; SIGHUP reloads them)
        [--signing-alg ES256|EdDSA|RS256] [--demo]       run the auth server
        [--workers N|auto]                               N processes on the port (one per core: auto)
  bff --issuer URL --client-id ID --upstream NAME=URL [--upstream …] [--port 5173]
        [--public-url URL] [--db URL] [--redis URL]       the backend-for-frontend (tessera bff --help)
  user add NAME --password-stdin [--roles a,b] [--email E] [--email-verified] [--name N]
                                                          create a user
  user profile NAME [--email E|''] [--[no-]email-verified] [--name N|'']
                                                          OpenID Connect profile
  user list                                               list users
  user disable NAME | user enable NAME                    disabling ends every session
  user roles NAME --set a,b                               replace roles (sessions get a new id)
  user password NAME --password-stdin                     set a password; ends every session
  client add ID --grants G[,G] --audience AUD [--scopes "a b"] [--token-format jwt|opaque]
        [--access-ttl SECONDS] [--introspect] [--public] [--redirect-uri URI[,URI]]
        [--first-party] [--fingerprint] [--oidc [--id-token-alg RS256|ES256|EdDSA]
        [--post-logout-redirect-uri URI[,URI]] [--backchannel-logout-uri URI]]
                                                          register a client (secret printed once)
        grants: authorization_code, refresh_token, client_credentials
  client update ID [--grants G[,G]] [--audience AUD] [--scopes "a b"] [--token-format F]
        [--access-ttl SECONDS|default] [--[no-]introspect] [--redirect-uri URI[,URI]]
        [--[no-]first-party] [--[no-]fingerprint] [--[no-]oidc] [--id-token-alg ALG|default]
        [--post-logout-redirect-uri URI[,URI]] [--backchannel-logout-uri URI|'']
                                                          change a client (narrowing revokes)
  client list | client rotate-secret ID
  client remove ID                                        end everything the client was given
  keys list | keys rotate [--alg ES256|EdDSA|RS256]       signing keys (publish before sign)
  token decode TOKEN                                      show a JWT's header and claims (no verification)
  db migrate                                              bring the database schema to this version
  db copy [--from sqlite:PATH] [--to postgres://...]      move an installation to an empty PostgreSQL
  audit [--user U] [--client C] [--type T] [--since 1h] [--limit N] [--json]
                                                          the audit trail, newest first (default 100)
  help                                                    this text

Data: every command but token decode and help uses the installation in --data DIR (default
./.tessera in the current directory) and names it on stderr. serve creates one on its first
start; any other command stops (exit 2) when there is none, unless given --init.

Every option also reads TESSERA_<OPTION> from the environment (flags win; not --change-issuer
or --init).
All settings: see the README's configuration table, or \`tessera help settings\`.`;

/** `tessera help [settings]` (and `--help` on any command). */
export function helpText(topic: string | undefined): string {
  return topic === "settings" ? settingsHelp() : USAGE;
}

function settingsHelp(): string {
  return (Object.keys(SETTINGS) as SettingKey[])
    .map((k) => {
      const spec: SettingSpec = SETTINGS[k];
      const names = spec.envOnly
        ? envName(k)
        : spec.flagOnly
          ? `--${flagName(k)}`
          : `--${flagName(k)} (${envName(k)})`;
      return `${names}: ${spec.doc}`;
    })
    .join("\n");
}
