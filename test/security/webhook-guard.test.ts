import { describe, expect, it } from 'vitest';
import { SwitchyardError } from '../../queues/core/errors.js';
import {
  assertWebhookTarget,
  classifyAddress,
  parseIPv6,
  type Resolve,
  refusalReason,
} from '../../queues/security/webhook-guard.js';

const STRICT = { allowPrivate: false };
const LENIENT = { allowPrivate: true };

/** A resolver with fixed answers, standing in for DNS (this machine has none). */
const resolver =
  (answers: Record<string, string[]>): Resolve =>
  async (host) => {
    const found = answers[host];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return found;
  };

async function refusal(url: string, policy = STRICT, resolve: Resolve = resolver({})): Promise<string> {
  const error = await assertWebhookTarget('url', url, policy, resolve).then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error, `${url} should be refused`).toBeInstanceOf(SwitchyardError);
  expect((error as SwitchyardError).code).toBe('BAD_USER_INPUT');
  return (error as Error).message;
}

describe('classifyAddress', () => {
  it.each([
    ['169.254.169.254', 'forbidden'],
    ['169.254.0.1', 'forbidden'],
    ['0.0.0.0', 'forbidden'],
    ['100.100.100.200', 'forbidden'],
    ['224.0.0.1', 'forbidden'],
    ['255.255.255.255', 'forbidden'],
    ['::', 'forbidden'],
    ['fe80::1', 'forbidden'],
    ['fe80::1%eth0', 'forbidden'],
    ['ff02::1', 'forbidden'],
    ['fd00:ec2::254', 'forbidden'],
    ['::ffff:169.254.169.254', 'forbidden'],
    ['::ffff:a9fe:a9fe', 'forbidden'],
    ['64:ff9b::a9fe:a9fe', 'forbidden'],
    ['2002:a9fe:a9fe::1', 'forbidden'],
    ['127.0.0.1', 'private'],
    ['127.1.2.3', 'private'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['::1', 'private'],
    ['[::1]', 'private'],
    ['fd12:3456::1', 'private'],
    ['fc00::1', 'private'],
    ['::ffff:127.0.0.1', 'private'],
    ['::ffff:7f00:1', 'private'],
    ['::ffff:10.0.0.1', 'private'],
    ['8.8.8.8', 'public'],
    ['172.32.0.1', 'public'],
    ['203.0.113.7', 'public'],
    ['2606:4700::1111', 'public'],
    ['::ffff:8.8.8.8', 'public'],
  ])('%s is %s', (address, kind) => {
    expect(classifyAddress(address).kind).toBe(kind);
  });

  it('should parse IPv6 with ::, zones and a dotted tail', () => {
    expect([...(parseIPv6('::1') ?? [])]).toEqual([...new Array(15).fill(0), 1]);
    expect([...(parseIPv6('::ffff:1.2.3.4') ?? [])].slice(10)).toEqual([0xff, 0xff, 1, 2, 3, 4]);
    expect([...(parseIPv6('fe80::1%lo0') ?? [])].slice(0, 2)).toEqual([0xfe, 0x80]);
    expect(parseIPv6('1.2.3.4')).toBeNull();
  });

  it('should refuse link-local even when private targets are allowed', () => {
    expect(refusalReason('169.254.169.254', LENIENT)).toMatch(/may never reach/);
    expect(refusalReason('127.0.0.1', LENIENT)).toBeNull();
    expect(refusalReason('127.0.0.1', STRICT)).toMatch(/SWITCHYARD_ALLOW_PRIVATE_WEBHOOKS/);
  });
});

describe('assertWebhookTarget (createQueue/updateQueue time)', () => {
  it.each([
    ['http://127.0.0.1:8080/hook', /127\.0\.0\.1 is loopback/],
    ['http://[::1]:8080/hook', /::1 is loopback/],
    ['http://10.0.0.1/hook', /10\.0\.0\.1 is private/],
    ['http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is link-local.*may never reach/],
    ['http://[fd00:ec2::254]/', /cloud metadata/],
    ['http://2130706433/hook', /127\.0\.0\.1 is loopback/],
    ['http://0x7f.1/hook', /127\.0\.0\.1 is loopback/],
    ['http://localhost:3000/hook', /localhost is loopback/],
    ['http://api.localhost/hook', /api\.localhost is loopback/],
  ])('should refuse %s', async (url, message) => {
    expect(await refusal(url)).toMatch(message);
  });

  it('should refuse a name that resolves to a refused address, naming both', async () => {
    const resolve = resolver({
      'internal.example': ['10.1.2.3'],
      'meta.example': ['203.0.113.1', '169.254.169.254'],
    });
    expect(await refusal('https://internal.example/hook', STRICT, resolve)).toBe(
      'url is refused: internal.example resolves to 10.1.2.3, which is private (10.0.0.0/8): webhooks to ' +
        'loopback and private addresses are refused unless the gateway listens on loopback only or ' +
        'SWITCHYARD_ALLOW_PRIVATE_WEBHOOKS=true',
    );
    expect(await refusal('https://meta.example/hook', LENIENT, resolve)).toMatch(/169\.254\.169\.254/);
  });

  it('should never echo the URL path or query, which may carry a token', async () => {
    const message = await refusal('http://127.0.0.1/hooks/T000/B000/s3cr3t-t0ken?key=abc');
    expect(message).not.toMatch(/s3cr3t|key=abc|T000/);
  });

  it('should accept public addresses, names that resolve publicly, and names that do not resolve', async () => {
    const resolve = resolver({ 'hooks.example': ['203.0.113.10', '2606:4700::1'] });
    await assertWebhookTarget('url', 'https://hooks.example/in', STRICT, resolve);
    await assertWebhookTarget('url', 'https://203.0.113.10/in', STRICT, resolve);
    await assertWebhookTarget('url', 'https://not-yet.example/in', STRICT, resolve);
  });

  it('should accept loopback and private targets when the policy allows them', async () => {
    const resolve = resolver({ 'internal.example': ['10.1.2.3'] });
    await assertWebhookTarget('url', 'http://127.0.0.1:9/', LENIENT, resolve);
    await assertWebhookTarget('url', 'http://localhost:9/', LENIENT, resolve);
    await assertWebhookTarget('url', 'http://internal.example/', LENIENT, resolve);
  });
});
