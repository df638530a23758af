/**
 * The SSRF guard for webhooks: which addresses a webhook may reach. Checked twice, because either
 * check alone can be got around: when a queue's URL is set (a clear BAD_USER_INPUT for literal IPs and
 * for names that resolve somewhere forbidden), and on the address actually connected to (so a name
 * that resolves elsewhere later, DNS rebinding, is caught where it matters).
 *
 * Never reachable: "this network" (0/8), link-local (169.254/16, fe80::/10: cloud metadata lives
 * there), known metadata addresses (fd00:ec2::254, 100.100.100.200), multicast, reserved and
 * unspecified addresses. Reachable only when the policy allows private targets: loopback (127/8,
 * ::1), RFC 1918 (10/8, 172.16/12, 192.168/16), CGNAT (100.64/10), benchmarking (198.18/15) and
 * unique-local IPv6 (fc00::/7). IPv4 addresses embedded in IPv6 (mapped, NAT64, 6to4) are judged as
 * the IPv4 address they carry.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, buildConnector } from 'undici';
import { badInput } from '../core/index.js';

/** Which webhook targets are allowed besides public addresses. */
export interface WebhookPolicy {
  /**
   * Allow loopback and private-range targets (never link-local or metadata addresses). The server
   * turns it on when it listens on loopback only or SWITCHYARD_ALLOW_PRIVATE_WEBHOOKS=true.
   * @default false
   */
  allowPrivate: boolean;
}

export type AddressClass =
  | { kind: 'public' }
  | { kind: 'private' | 'forbidden'; range: string }
  | { kind: 'invalid' };

/** The code of the error a refused connection fails with; webhook-http turns it into REJECTED. */
export const ADDRESS_REFUSED = 'ERR_SWITCHYARD_ADDRESS_REFUSED';

export class AddressRefusedError extends Error {
  override readonly name = 'AddressRefusedError';
  readonly code = ADDRESS_REFUSED;
}

/** How long the check at createQueue/updateQueue waits for DNS before leaving it to the connect check. */
const CREATE_LOOKUP_TIMEOUT_MS = 2_000;

interface Range {
  bytes: readonly number[];
  prefix: number;
  kind: 'private' | 'forbidden';
  range: string;
}

const v4 = (cidr: string, kind: Range['kind'], range: string): Range => {
  const [address = '', prefix = '32'] = cidr.split('/');
  return { bytes: address.split('.').map(Number), prefix: Number(prefix), kind, range };
};
const v6 = (cidr: string, kind: Range['kind'], range: string): Range => {
  const [address = '', prefix = '128'] = cidr.split('/');
  return { bytes: [...(parseIPv6(address) ?? [])], prefix: Number(prefix), kind, range };
};

// Forbidden ranges come first: a forbidden range inside a private one (fd00:ec2::254 in fc00::/7) wins.
const V4_RANGES: readonly Range[] = [
  v4('0.0.0.0/8', 'forbidden', '"this network" (0.0.0.0/8)'),
  v4('169.254.0.0/16', 'forbidden', 'link-local, where cloud metadata services live (169.254.0.0/16)'),
  v4('100.100.100.200/32', 'forbidden', 'a cloud metadata service (100.100.100.200)'),
  v4('192.0.0.0/24', 'forbidden', 'IETF protocol assignments (192.0.0.0/24)'),
  v4('224.0.0.0/4', 'forbidden', 'multicast (224.0.0.0/4)'),
  v4('240.0.0.0/4', 'forbidden', 'reserved or broadcast (240.0.0.0/4)'),
  v4('127.0.0.0/8', 'private', 'loopback (127.0.0.0/8)'),
  v4('10.0.0.0/8', 'private', 'private (10.0.0.0/8)'),
  v4('172.16.0.0/12', 'private', 'private (172.16.0.0/12)'),
  v4('192.168.0.0/16', 'private', 'private (192.168.0.0/16)'),
  v4('100.64.0.0/10', 'private', 'carrier-grade NAT (100.64.0.0/10)'),
  v4('198.18.0.0/15', 'private', 'benchmarking (198.18.0.0/15)'),
];

const V6_RANGES: readonly Range[] = [
  v6('::/128', 'forbidden', 'the unspecified address (::)'),
  v6('fd00:ec2::254/128', 'forbidden', 'a cloud metadata service (fd00:ec2::254)'),
  v6('fe80::/10', 'forbidden', 'link-local (fe80::/10)'),
  v6('ff00::/8', 'forbidden', 'multicast (ff00::/8)'),
  v6('100::/64', 'forbidden', 'discard-only (100::/64)'),
  v6('2001::/32', 'forbidden', 'Teredo tunnelling (2001::/32)'),
  v6('::1/128', 'private', 'loopback (::1)'),
  v6('fc00::/7', 'private', 'unique local (fc00::/7)'),
  v6('fec0::/10', 'private', 'site-local (fec0::/10)'),
  v6('64:ff9b:1::/48', 'private', 'local-use NAT64 (64:ff9b:1::/48)'),
];

/** Where an IPv4 address sits inside an IPv6 one: mapped and NAT64 at the end, 6to4 after 2002:. */
const EMBEDDED_V4: ReadonlyArray<{ prefix: Range; offset: number }> = [
  { prefix: v6('::ffff:0:0/96', 'private', 'IPv4-mapped'), offset: 12 },
  { prefix: v6('64:ff9b::/96', 'private', 'NAT64'), offset: 12 },
  { prefix: v6('::/96', 'private', 'IPv4-compatible'), offset: 12 },
  { prefix: v6('2002::/16', 'private', '6to4'), offset: 2 },
];

function inRange(bytes: ArrayLike<number>, range: Range): boolean {
  let bits = range.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((bytes[i] ?? 0) & mask) !== ((range.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** The 16 bytes of an IPv6 address (zone id and brackets allowed), or null when it is not one. */
export function parseIPv6(text: string): Uint8Array | null {
  const address = text.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (isIP(address) !== 6) return null;
  const [head = '', tail] = address.split('::');
  const groups = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    for (const group of part.split(':')) {
      if (group.includes('.')) {
        const quad = group.split('.').map(Number);
        out.push(((quad[0] ?? 0) << 8) | (quad[1] ?? 0), ((quad[2] ?? 0) << 8) | (quad[3] ?? 0));
      } else out.push(Number.parseInt(group, 16));
    }
    return out;
  };
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  if (!left || !right) return null;
  const zeros = 8 - left.length - right.length;
  const all = [...left, ...new Array<number>(Math.max(0, zeros)).fill(0), ...right];
  const bytes = new Uint8Array(16);
  all.forEach((group, index) => {
    bytes[index * 2] = group >> 8;
    bytes[index * 2 + 1] = group & 0xff;
  });
  return bytes;
}

function classifyV4(bytes: ArrayLike<number>): AddressClass {
  const range = V4_RANGES.find((candidate) => inRange(bytes, candidate));
  return range ? { kind: range.kind, range: range.range } : { kind: 'public' };
}

/** Where an address sits, as far as webhooks are concerned. Accepts IPv4, IPv6 and bracketed IPv6. */
export function classifyAddress(address: string): AddressClass {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare.replace(/%.*$/, ''));
  if (family === 4) return classifyV4(bare.split('.').map(Number));
  if (family !== 6) return { kind: 'invalid' };
  const bytes = parseIPv6(bare);
  if (!bytes) return { kind: 'invalid' };
  const own = V6_RANGES.find((candidate) => inRange(bytes, candidate));
  if (own) return { kind: own.kind, range: own.range };
  for (const { prefix, offset } of EMBEDDED_V4) {
    if (!inRange(bytes, prefix)) continue;
    const inner = classifyV4(bytes.subarray(offset, offset + 4));
    if (inner.kind === 'private' || inner.kind === 'forbidden') {
      return { kind: inner.kind, range: `${prefix.range} ${inner.range}` };
    }
    return inner;
  }
  return { kind: 'public' };
}

/**
 * Why `policy` refuses `address`, worded to follow "<address> is " ("loopback (127.0.0.0/8): …"),
 * or null when it may be reached.
 */
export function refusalReason(address: string, policy: WebhookPolicy): string | null {
  const verdict = classifyAddress(address);
  if (verdict.kind === 'public') return null;
  if (verdict.kind === 'invalid') return 'not an IP address';
  if (verdict.kind === 'forbidden') return `${verdict.range}: webhooks may never reach it`;
  if (policy.allowPrivate) return null;
  return (
    `${verdict.range}: webhooks to loopback and private addresses are refused unless the gateway ` +
    'listens on loopback only or SWITCHYARD_ALLOW_PRIVATE_WEBHOOKS=true'
  );
}

/** RFC 6761: `localhost` and every name under it are loopback, whatever a resolver says. */
const isLocalhostName = (host: string) => host === 'localhost' || host.endsWith('.localhost');

/** A URL's host without IPv6 brackets or a trailing root dot. */
const hostOf = (url: URL) =>
  url.hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();

export type Resolve = (hostname: string) => Promise<string[]>;

const systemResolve: Resolve = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true }, (error, addresses) => {
      if (error) reject(error);
      else resolve(addresses.map((address) => address.address));
    });
  });

/**
 * The check at createQueue/updateQueue time: throws BAD_USER_INPUT when the URL's host is, or
 * resolves to, an address the policy refuses. A name that does not resolve (yet) passes: the
 * connect-time check still guards it. Never echoes the URL itself, which may carry a token.
 */
export async function assertWebhookTarget(
  field: string,
  rawUrl: string,
  policy: WebhookPolicy,
  resolve: Resolve = systemResolve,
): Promise<void> {
  if (!URL.canParse(rawUrl)) return;
  const host = hostOf(new URL(rawUrl));
  const refuse = (reason: string) => {
    throw badInput(`${field} is refused: ${reason}`, { field });
  };
  if (isIP(host)) {
    const reason = refusalReason(host, policy);
    if (reason) refuse(`${host} is ${reason}`);
    return;
  }
  if (isLocalhostName(host)) {
    const reason = refusalReason('127.0.0.1', policy);
    if (reason) refuse(`${host} is ${reason}`);
    return;
  }
  const addresses = await Promise.race([
    resolve(host).catch(() => [] as string[]),
    sleep(CREATE_LOOKUP_TIMEOUT_MS, [] as string[], { ref: false }),
  ]);
  for (const address of addresses) {
    const reason = refusalReason(address, policy);
    if (reason) refuse(`${host} resolves to ${address}, which is ${reason}`);
  }
}

/** Resolves every address of a name, as `dns.lookup(host, { all: true })` does. */
export type LookupAll = (
  hostname: string,
  options: LookupOptions,
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

const systemLookupAll: LookupAll = (hostname, options, callback) =>
  dnsLookup(hostname, { ...options, all: true }, callback);

/**
 * A `lookup` for net/tls.connect that resolves as usual, then keeps only the addresses the policy
 * allows; when none is left the connection fails with {@link AddressRefusedError}.
 */
export function guardedLookup(policy: WebhookPolicy, lookupAll: LookupAll = systemLookupAll): LookupFunction {
  return (hostname, options, callback) => {
    const host = hostname.toLowerCase().replace(/\.$/, '');
    lookupAll(hostname, options, (error, found) => {
      if (error) {
        callback(error, options.all ? [] : '', undefined);
        return;
      }
      // Resolvers usually answer localhost with loopback anyway; RFC 6761 says they must not matter.
      const addresses = isLocalhostName(host)
        ? found.filter((address) => classifyAddress(address.address).kind !== 'public')
        : found;
      const allowed = addresses.filter((address) => refusalReason(address.address, policy) === null);
      const [first] = allowed;
      if (!first) {
        const [refused] = addresses;
        const why = refused
          ? `${hostname} resolves to ${refused.address}, which is ${refusalReason(refused.address, policy)}`
          : `${hostname} resolved to no usable address`;
        const refusal = new AddressRefusedError(why);
        callback(refusal, options.all ? [] : '', undefined);
        return;
      }
      if (options.all) callback(null, allowed);
      else callback(null, first.address, first.family);
    });
  };
}

/**
 * An undici connector that lets only allowed addresses through: literal IPs are checked here (net
 * skips `lookup` for them), names by {@link guardedLookup} inside `base`.
 */
export function guardedConnector(
  policy: WebhookPolicy,
  base: buildConnector.connector = buildConnector({ lookup: guardedLookup(policy) }),
): buildConnector.connector {
  return (options, callback) => {
    const host = options.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) {
      const reason = refusalReason(host, policy);
      if (reason) {
        callback(new AddressRefusedError(`${host} is ${reason}`), null);
        return;
      }
    }
    base(options, callback);
  };
}

/**
 * An undici dispatcher (keep-alive pool) whose every connection passes the guard. Close it with `close()`.
 * @param lookupAll How names are resolved. @default dns.lookup (the system resolver)
 */
export function createGuardedAgent(policy: WebhookPolicy, lookupAll?: LookupAll): Agent {
  return new Agent({
    connect: guardedConnector(policy, buildConnector({ lookup: guardedLookup(policy, lookupAll) })),
  });
}
