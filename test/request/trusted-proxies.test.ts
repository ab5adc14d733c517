import { loadConfig } from '../../src/config/load.js';
import { isAddressOrCidr, plainAddress, TrustedProxies } from '../../src/request/trusted-proxies.js';

describe('TrustedProxies', () => {
  it.each(['10.0.0.0/8', '10.244.1.7', '0.0.0.0/0', 'fd00::/8', '::1', '::1/128'])('accepts %s', (entry) => {
    expect(isAddressOrCidr(entry)).toBe(true);
  });

  it.each(['', '10.0.0.0/33', '10.0.0/8', 'fd00::/129', '10.0.0.0/', '10.0.0.0/8x', '10.0.0.0/x8', '10.0.0.0/-8', 'localhost', '*'])(
    'refuses %j',
    (entry) => {
      expect(isAddressOrCidr(entry)).toBe(false);
    },
  );

  it('matches the TCP peer, IPv4-mapped IPv6 as IPv4; nothing for an unknown or malformed peer', () => {
    const trusted = new TrustedProxies(['10.244.0.0/16', 'fd00::/8']);
    expect(trusted.has('10.244.3.4')).toBe(true);
    expect(trusted.has('::ffff:10.244.3.4')).toBe(true);
    expect(trusted.has('fd00::17')).toBe(true);
    expect(trusted.has('10.245.0.1')).toBe(false);
    expect(trusted.has('127.0.0.1')).toBe(false);
    expect(trusted.has(undefined)).toBe(false);
    expect(trusted.has('not-an-address')).toBe(false);
    expect(plainAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
  });

  it('reads only a whole IPv4-mapped address as IPv4: an IPv6 peer that merely ends in one is not the IPv4 proxy', () => {
    const trusted = new TrustedProxies(['10.244.0.0/16']);
    expect(trusted.has('1::ffff:10.244.3.4')).toBe(false);
    expect(plainAddress('1::ffff:10.244.3.4')).toBe('1::ffff:10.244.3.4');
    expect(plainAddress('::FFFF:10.244.30.40')).toBe('10.244.30.40');
  });

  it('refuses to start with an entry that is no address or CIDR, naming it', () => {
    expect(() => new TrustedProxies(['10.0.0.0/8', 'pods'])).toThrow('not an address or CIDR: "pods"');
  });

  it('defaults to loopback, and the config refuses an entry that is no address or CIDR', () => {
    const base = { AUTHZ_ISSUER_URL: 'http://127.0.0.1:1/realms/x', AUTHZ_CLIENT_ID: 'c' };
    expect(loadConfig(base).ingress).toEqual({ enabled: false, trustedProxies: ['127.0.0.1/32', '::1/128'] });
    expect(() => loadConfig({ ...base, AUTHZ_INGRESS_TRUSTED_PROXIES: '10.0.0.0/8,pods' })).toThrow(/ingress\.trustedProxies/);
  });
});
