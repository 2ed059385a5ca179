/**
 * Where a server reaches itself: the demo's API guard and BFF talk to Tessera over
 * loopback, whatever name the issuer has (it may be one only browsers resolve).
 */
export function loopbackUrl(config: { host: string; port: number; issuer: string }): string {
  // The port is chosen at listen time (--port 0 with an --issuer): the issuer names it.
  if (config.port === 0) return new URL(config.issuer).origin;
  const { host } = config;
  let name: string;
  if (host === "" || host === "0.0.0.0") name = "127.0.0.1";
  else if (host === "::") name = "[::1]";
  else if (host.includes(":")) name = `[${host}]`;
  else name = host;
  return `http://${name}:${config.port}`;
}
