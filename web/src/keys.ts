/**
 * API keys and the audit log (admins only; the nav offers the page to admin keys alone). A new key's
 * secret is answered once: it is shown here once, and gone when the page changes.
 */
import {
  DashboardApiKeysDocument,
  type DashboardApiKeysQuery,
  DashboardAuditLogDocument,
  type DashboardAuditLogQuery,
  DashboardCreateApiKeyDocument,
  DashboardRevokeApiKeyDocument,
} from '../../client/generated/graphql.js';
import { button, formatTime, h, replaceChildren, table } from './dom.js';
import { request } from './gateway.js';
import { reported, showStatus } from './status.js';

const AUDIT_ENTRIES = 100;

type Key = DashboardApiKeysQuery['apiKeys'][number];
type AuditEntry = DashboardAuditLogQuery['auditLog'][number];

export function mountKeys(root: HTMLElement): () => void {
  const name = h('input', { name: 'name', required: true, autocomplete: 'off' });
  const scopes = h('input', {
    name: 'scopes',
    required: true,
    autocomplete: 'off',
    placeholder: 'publish:orders.* stats',
    'aria-describedby': 'scopes-help',
  });
  const form = h(
    'form',
    { class: 'filter', 'aria-label': 'Create an API key' },
    h('label', {}, 'name', name),
    h('label', {}, 'scopes', scopes),
    h('button', { type: 'submit' }, 'Create key'),
  );
  const help = h(
    'p',
    { id: 'scopes-help', class: 'muted' },
    'Scopes separated by spaces or commas: admin, stats, publish:<pattern>, consume:<pattern>, subscribe:<pattern>, ' +
      'deadletters:read:<pattern>, deadletters:write:<pattern> (patterns as topic bindings: * one word, # any).',
  );
  const secret = h('div', { 'data-secret': '' });
  const keys = h('section', { 'aria-label': 'API keys' });
  const audit = h('section', { 'aria-label': 'Audit log' });

  async function loadKeys(): Promise<void> {
    const { apiKeys } = await request(DashboardApiKeysDocument);
    replaceChildren(
      keys,
      h('h2', {}, 'API keys'),
      table(
        ['name', 'id', 'scopes', 'created', 'last used', ''],
        apiKeys,
        (key: Key) => [
          key.name,
          h('code', { 'data-key-id': key.id }, key.id),
          key.scopes.join(' '),
          formatTime(key.createdAt),
          key.lastUsedAt ? formatTime(key.lastUsedAt) : 'never',
          button('Revoke', () => revoke(key), {
            'data-action': 'revoke',
            'aria-label': `Revoke ${key.name}`,
          }),
        ],
        'No API keys yet.',
      ),
    );
  }

  async function loadAudit(): Promise<void> {
    const { auditLog } = await request(DashboardAuditLogDocument, { first: AUDIT_ENTRIES });
    replaceChildren(
      audit,
      h(
        'h2',
        {},
        'Audit log ',
        button('Refresh', () => reported(loadAudit), { class: 'small' }),
      ),
      table(
        ['at', 'key', 'operation', 'arguments', 'outcome'],
        auditLog,
        (entry: AuditEntry) => [
          formatTime(entry.at),
          entry.keyName ?? entry.keyId ?? 'loopback, no key',
          entry.operation,
          h('code', {}, entry.arguments === null ? '' : JSON.stringify(entry.arguments)),
          entry.outcome === 'OK' ? 'OK' : `${entry.outcome}${entry.error ? `: ${entry.error}` : ''}`,
        ],
        'Nothing audited yet.',
      ),
    );
  }

  function revoke(key: Key) {
    return reported(async () => {
      if (!confirm(`Revoke the key ${key.name} (${key.id})? Its requests fail from now on.`)) return;
      const { revokeApiKey } = await request(DashboardRevokeApiKeyDocument, { id: key.id });
      showStatus(revokeApiKey ? `Revoked ${key.name}` : `${key.name} was already gone`);
      await Promise.all([loadKeys(), loadAudit()]);
    });
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void reported(async () => {
      const list = scopes.value.split(/[\s,]+/).filter(Boolean);
      const { createApiKey } = await request(DashboardCreateApiKeyDocument, {
        name: name.value.trim(),
        scopes: list,
      });
      replaceChildren(
        secret,
        h(
          'div',
          { class: 'once', role: 'alert' },
          h('strong', {}, `The secret of ${createApiKey.key.name}, shown this once: `),
          h('code', { 'data-new-secret': '' }, createApiKey.secret),
          h('p', {}, 'Copy it now into your secret store: Switchyard keeps only its hash.'),
        ),
      );
      form.reset();
      showStatus(`Created key ${createApiKey.key.name} (${createApiKey.key.id})`);
      await Promise.all([loadKeys(), loadAudit()]);
    });
  });

  replaceChildren(root, h('h2', {}, 'New API key'), form, help, secret, keys, audit);
  void reported(() => Promise.all([loadKeys(), loadAudit()]).then(() => {}));
  return () => {};
}
