import { BlockList, isIP } from 'node:net';

/** `a.b.c.d`, `a.b.c.d/n`, an IPv6 address or `v6/n`: what `ingress.trustedProxies` accepts. */
export function isAddressOrCidr(entry: string): boolean {
  return parseEntry(entry) !== undefined;
}

interface Entry {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

function parseEntry(entry: string): Entry | undefined {
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return undefined;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const max = version === 4 ? 32 : 128;
  if (slash === -1) return { address, prefix: max, family };
  const bits = entry.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return undefined;
  return { address, prefix: Number(bits), family };
}

/**
 * A socket address as written for comparison: Node reports IPv4 peers of a dual-stack socket as
 * IPv4-mapped IPv6 (`::ffff:10.0.0.7`), which must match an IPv4 entry like `10.0.0.0/8`.
 */
export function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped === null ? address : mapped[1]!;
}

/**
 * The senders whose ingress-nginx headers are believed, checked against the TCP peer of the
 * subrequest (never against a header, which is what it guards).
 */
export class TrustedProxies {
  private readonly list = new BlockList();

  /** @param entries validated by {@link isAddressOrCidr} (the config schema does) */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const parsed = parseEntry(entry);
      if (parsed === undefined) throw new Error(`not an address or CIDR: ${JSON.stringify(entry)}`);
      this.list.addSubnet(parsed.address, parsed.prefix, parsed.family);
    }
  }

  /** True when `remoteAddress` (a socket's peer) is in one of the entries; false when unknown. */
  has(remoteAddress: string | undefined): boolean {
    if (remoteAddress === undefined) return false;
    const address = plainAddress(remoteAddress);
    const version = isIP(address);
    if (version === 0) return false;
    return this.list.check(address, version === 4 ? 'ipv4' : 'ipv6');
  }
}
