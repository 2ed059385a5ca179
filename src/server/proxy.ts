import { isIP } from "node:net";

/**
 * Whether an address may be a reverse proxy of ours: loopback, or a private, unique-local
 * or link-local network (where load balancers and sidecars live). A forwarded header is
 * believed only when it was appended by such a peer, so a client that reaches the port
 * directly from the internet cannot choose its IP by sending X-Forwarded-For.
 */
export function isProxyAddress(address: string): boolean {
  let a = address.toLowerCase();
  if (a.startsWith("::ffff:") && isIP(a.slice(7)) === 4) a = a.slice(7);
  if (isIP(a) === 4) {
    const [x, y] = a.split(".").map(Number) as [number, number];
    return (
      x === 127 ||
      x === 10 ||
      (x === 172 && y >= 16 && y <= 31) ||
      (x === 192 && y === 168) ||
      (x === 169 && y === 254) ||
      (x === 100 && y >= 64 && y <= 127)
    );
  }
  if (isIP(a) === 6) {
    return a === "::1" || /^f[cd][0-9a-f]{2}:/.test(a) || /^fe[89ab][0-9a-f]:/.test(a);
  }
  return false;
}

/**
 * The trust function for `--trust-proxy N`: up to N hops, each of them a proxy address.
 * (proxy-addr calls it from the socket's peer outwards; the first untrusted hop is the
 * client.)
 */
export function trustHops(hops: number): (address: string, hop: number) => boolean {
  return (address, hop) => hop < hops && isProxyAddress(address);
}
